"""The front desk's library (the [desk] extra): the message, the outbox, sending, the register."""
