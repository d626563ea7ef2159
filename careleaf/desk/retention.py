"""Keeping patients' records only as long as the clinic says (careleaf.yaml's ``retention``, in days).

``purge`` deletes, for this project's namespace:

- a failed message (address, name, leaflet) kept for a retry, once ``failed_messages`` days have passed
  since it failed (a delivered one is deleted at delivery, one refused for good at once);
- the record of a delivered, failed or cancelled send after ``send_records`` days;
- an idempotency key after ``idempotency_keys`` days, unless its send is still pending;
- a register entry after ``register`` days;

then gives the freed pages back (VACUUM), so nothing deleted stays readable in the file. ``forget`` deletes
everything about one patient reference, on request. `careleaf purge` runs these; the worker runs ``purge``
once a day.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from careleaf.desk.database import Database
from careleaf.content.settings import Retention

TABLES = ("sends", "messages", "idempotency_keys", "handouts", "purges")


@dataclass(frozen=True)
class Purged:
    messages: int
    send_records: int
    idempotency_keys: int
    register: int

    def __str__(self) -> str:
        return (f"deleted {self.messages} failed message(s), {self.send_records} send record(s), "
                f"{self.idempotency_keys} idempotency key(s) and {self.register} register entr"
                f"{'y' if self.register == 1 else 'ies'}")


def _before(now: dt.datetime, days: float) -> str:
    return (now - dt.timedelta(days=days)).isoformat(timespec="milliseconds")


def purge(db: Database, retention: Retention, now: dt.datetime | None = None) -> Purged:
    """Delete what is past its retention period, then VACUUM."""
    now = now or dt.datetime.now(dt.UTC)
    with db.transaction() as tx:
        ns = tx.namespace
        old_failed = "select id from sends where namespace = ? and status = 'failed' and updated < ?"
        messages = tx.run(f"delete from messages where namespace = ? and id in ({old_failed})",
                          ns, ns, _before(now, retention.failed_messages))
        old_finished = "namespace = ? and status in ('sent', 'failed', 'cancelled') and updated < ?"
        cutoff = _before(now, retention.send_records)
        messages += tx.run(f"delete from messages where namespace = ? and id in (select id from sends where "
                           f"{old_finished})", ns, ns, cutoff)
        sends = tx.run(f"delete from sends where {old_finished}", ns, cutoff)
        keys = tx.run("delete from idempotency_keys where namespace = ? and created < ? and send_id not in "
                      "(select id from sends where namespace = ? and status in ('queued', 'sending', 'retrying'))",
                      ns, _before(now, retention.idempotency_keys), ns)
        register = tx.run("delete from handouts where namespace = ? and at < ?", ns, _before(now, retention.register))
        _mark(tx, now)
    db.maintain(TABLES)
    return Purged(messages, sends, keys, register)


def forget(db: Database, reference: str) -> Purged:
    """Delete every record of one patient reference: its sends (pending ones too), their messages and keys,
    and its register entries. For a patient's request to erase their data."""
    with db.transaction() as tx:
        ns = tx.namespace
        theirs = "select id from sends where namespace = ? and reference = ?"
        messages = tx.run(f"delete from messages where namespace = ? and id in ({theirs})", ns, ns, reference)
        keys = tx.run(f"delete from idempotency_keys where namespace = ? and send_id in ({theirs})", ns, ns, reference)
        sends = tx.run("delete from sends where namespace = ? and reference = ?", ns, reference)
        register = tx.run("delete from handouts where namespace = ? and reference = ?", ns, reference)
    db.maintain(TABLES)
    return Purged(messages, sends, keys, register)


def due(db: Database, now: dt.datetime | None = None) -> bool:
    """Whether a day has passed since this project's last purge (the worker's daily one, or a command's)."""
    now = now or dt.datetime.now(dt.UTC)
    with db.transaction() as tx:
        last = tx.one("select at from purges where namespace = ?", tx.namespace)
    return last is None or last[0] < _before(now, 1)


def _mark(tx, now: dt.datetime) -> None:
    at = now.isoformat(timespec="milliseconds")
    if not tx.run("update purges set at = ? where namespace = ?", at, tx.namespace):
        tx.run("insert into purges (namespace, at) values (?, ?)", tx.namespace, at)
