"""What a clinician and an editor read before approving: check, readability, the wording-change sheet."""
