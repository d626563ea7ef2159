"""The outbox: emails wait here until the clinic's mail server has them, through crashes, outages and restarts.

It is a table in the desk's database (careleaf.desk.database: SQLite on one machine, PostgreSQL for a clinic
group), beside the register, so that what changes together changes in one transaction:

- queueing claims the idempotency key, writes the send's record and stores the message, or (disk full,
  database down) does none of them, so a key is never left claimed with nothing queued;
- a worker claims a send with a lease, which it renews while it works; a worker that dies stops renewing,
  and once the lease has run out another worker (on any machine) takes the send over;
- delivery's record, the message's deletion and the register entries (one for each leaflet the message
  carries) are one transaction.

What each row holds: ``sends``, the state (status, attempts, the server's last reply with the address taken
out, the patient reference, which leaflets, that the patient agreed to email); ``messages``, the message itself
(address, name, leaflets), deleted once it is delivered or has failed for good; ``idempotency_keys``, which send
a patient's leaflet, or set of leaflets, went out as. How long each is kept: careleaf.yaml's ``retention`` (purge).

The guarantee: a message is delivered at least once. A second copy is possible only when a worker dies
(SIGKILL, a power cut) after the server accepted the message and before the worker recorded it, a window of
milliseconds; the copy has the same Message-ID, as every retry does (the stored bytes are sent). A worker
stopped with SIGTERM or SIGINT finishes the send in hand, or hands it back before any of it has left.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from careleaf.desk.database import Database, Transaction, open_database
from careleaf.desk.register import insert_entry
from careleaf.project import Project
from careleaf.content.settings import Settings

log = logging.getLogger("careleaf.desk.outbox")

PENDING = ("queued", "sending", "retrying")
FINISHED = ("sent", "failed", "cancelled")
_STATE = "id, status, attempts, created, updated, next_try, failing_since, reply, reference, about, lease_until"
MAX_LEAFLETS = 4       # in one message: before and after treatment, in two languages, is the most a patient needs
WORKER_GONE = 120      # seconds without a worker's heartbeat before the desk says none is running
_DUE = "((status in ('queued', 'retrying') and next_try <= ?) or (status = 'sending' and lease_until < ?))"


def idempotency_key(reference: str, code: str, version: int, lang: str, *, fallback: str | None = None,
                    large_print: bool = False) -> str:
    """The same leaflet version for the same patient: one delivery. Without a reference, ``fallback`` (one
    form on the desk) or else a new key: every send is new."""
    return set_key(reference, [(code, version, lang, large_print)], fallback=fallback)


def set_key(reference: str, leaflets: list[tuple[str, int, str, bool]], *, fallback: str | None = None) -> str:
    """The same set of leaflets (code, version, language, large print), in any order, for the same patient: one
    delivery; a different set is a different message. Without a reference, ``fallback`` (one form on the desk:
    a double click sends once, another leaflet from the same form is another message) or else a new key."""
    members = "\0".join(sorted(f"{code}\x1f{version}\x1f{lang}\x1f{'large' if large else 'standard'}"
                               for code, version, lang, large in leaflets))
    if not reference:
        return hashlib.sha256(f"form\0{fallback}\0{members}".encode()).hexdigest() if fallback else uuid.uuid4().hex
    if len(leaflets) == 1 and not leaflets[0][3]:
        code, version, lang, _ = leaflets[0]     # one leaflet in standard print keeps the key it always had
        return hashlib.sha256(f"{reference}\0{code}\0{version}\0{lang}".encode()).hexdigest()
    return hashlib.sha256(f"set\0{reference}\0{members}".encode()).hexdigest()


@dataclass(frozen=True)
class Queued:
    id: str
    status: str            # queued, or sent when the same leaflet already reached this patient
    new: bool              # False: this leaflet was already queued or sent for this patient; that send is returned


@dataclass(frozen=True)
class Claimed:
    """A send a worker has taken, with its message."""

    id: str
    attempts: int
    message: bytes
    failing_since: str | None
    state: dict[str, Any]


class Outbox:
    """The project's outbox: queue a message, deliver it (in a worker), read and work on the sends."""

    def __init__(self, project: Project, settings: Settings, database: Database | None = None):
        self.project, self.settings = project, settings
        self.db = database or open_database(project, settings)

    # --- the desk's side ------------------------------------------------------------------

    def queue(self, message_bytes: bytes, *, key: str, about: dict[str, Any]) -> Queued:
        """Put a message in the outbox. ``about`` is what the record keeps (no name, no address).

        A message with the key of one already queued or sent is not queued again: the earlier send is
        returned (``new`` False), and its message, not this one, is what the patient gets.
        """
        send_id, now = uuid.uuid4().hex, _now()
        about = dict(about)
        reference = about.pop("reference", "") or ""
        with self.db.transaction() as tx:
            ns = tx.namespace
            # Claiming the key, the record and the message are one transaction: all of them, or none.
            if not tx.run("insert into idempotency_keys (namespace, key, send_id, created) values (?, ?, ?, ?) "
                          "on conflict do nothing", ns, key, send_id, now):
                owner = tx.one("select send_id from idempotency_keys where namespace = ? and key = ?", ns, key)[0]
                earlier = _state(tx, owner)
                if earlier is not None and earlier["status"] not in ("failed", "cancelled"):
                    return Queued(owner, earlier["status"], new=False)
                tx.run("update idempotency_keys set send_id = ?, created = ? where namespace = ? and key = ?",
                       send_id, now, ns, key)
            tx.run(f"insert into sends (namespace, key, {_STATE}) values (?, ?, ?, 'queued', 0, ?, ?, ?, null, '', "
                   "?, ?, null)", ns, key, send_id, now, now, now, reference, json.dumps(about))
            tx.run("insert into messages (namespace, id, body) values (?, ?, ?)", ns, send_id, message_bytes)
        return Queued(send_id, "queued", new=True)

    def status(self, send_id: str) -> dict[str, Any] | None:
        with self.db.transaction() as tx:
            return _state(tx, send_id)

    def sends(self) -> list[dict[str, Any]]:
        """Every send the outbox knows, oldest first, without personal data."""
        with self.db.transaction() as tx:
            rows = tx.rows(f"select {_STATE} from sends where namespace = ? order by created, id", tx.namespace)
        return [_as_state(row) for row in rows]

    def retryable(self) -> set[str]:
        """The failed sends whose message is still kept, so that staff can queue them again."""
        with self.db.transaction() as tx:
            return {row[0] for row in tx.rows("select id from sends where namespace = ? and status = 'failed' and "
                                              "id in (select id from messages where namespace = ?)",
                                              tx.namespace, tx.namespace)}

    # --- staff's side -----------------------------------------------------------------------

    def retry(self, send_id: str | None = None) -> int:
        """Queue again one failed send (or, without an id, every failed send) whose message is still kept."""
        with self.db.transaction() as tx:
            chosen = "and id = ?" if send_id else ""
            ids = [row[0] for row in tx.rows(
                f"select id from sends where namespace = ? and status = 'failed' {chosen} and id in "
                "(select id from messages where namespace = ?)", tx.namespace, *([send_id] if send_id else []),
                tx.namespace)]
            for found in ids:
                tx.run("update sends set status = 'queued', next_try = ?, failing_since = null, updated = ?, "
                       "reply = 'queued again by staff' where namespace = ? and id = ?", _now(), _now(), tx.namespace,
                       found)
        return len(ids)

    def cancel(self, send_id: str) -> bool:
        """Stop a send that has not been delivered; its message is deleted at once."""
        with self.db.transaction() as tx:
            changed = tx.run("update sends set status = 'cancelled', reply = 'cancelled by staff', updated = ?, "
                             "lease_until = null where namespace = ? and id = ? and status in "
                             "('queued', 'retrying', 'failed')", _now(), tx.namespace, send_id)
            if changed:
                tx.run("delete from messages where namespace = ? and id = ?", tx.namespace, send_id)
        self.db.checkpoint()
        return bool(changed)

    def clear(self) -> int:
        """Take failed and cancelled sends off the list (their records and any message kept)."""
        with self.db.transaction() as tx:
            finished = "select id from sends where namespace = ? and status in ('failed', 'cancelled')"
            tx.run(f"delete from messages where namespace = ? and id in ({finished})", tx.namespace, tx.namespace)
            cleared = tx.run("delete from sends where namespace = ? and status in ('failed', 'cancelled')",
                             tx.namespace)
        self.db.checkpoint()
        return cleared

    def paused(self) -> tuple[str, str] | None:
        """(since, why) while the outbox is paused by a fault in the clinic's own settings."""
        with self.db.transaction() as tx:
            return tx.one("select since, reason from outbox_pause where namespace = ?", tx.namespace)

    def resume(self) -> bool:
        """Continue after the fix: every queued send goes."""
        with self.db.transaction() as tx:
            return bool(tx.run("delete from outbox_pause where namespace = ?", tx.namespace))

    # --- the worker's side -------------------------------------------------------------------

    def claim(self, worker: str) -> Claimed | None:
        """Take the next due send (or one whose worker's lease ran out) for ``worker``, leased; None when none is
        due or the outbox is paused."""
        now = _now()
        with self.db.transaction() as tx:
            ns = tx.namespace
            if tx.one("select 1 from outbox_pause where namespace = ?", ns):
                return None
            row = tx.one(f"select id, status from sends where namespace = ? and {_DUE} order by next_try, created "
                         f"limit 1{tx.skip_locked}", ns, now, now)
            if row is None:
                return None
            if row[1] == "sending":
                log.info("send %s: its worker stopped answering; trying again", row[0])
            tx.run("update sends set status = 'sending', attempts = attempts + 1, worker = ?, lease_until = ?, "
                   "updated = ? where namespace = ? and id = ?", worker, self._lease_end(), now, ns, row[0])
            state = _state(tx, row[0])
            body = tx.one("select body from messages where namespace = ? and id = ?", ns, row[0])
        if body is None:
            self.record_failed(state["id"], worker, "the message was no longer in the outbox", keep=False)
            return None
        return Claimed(state["id"], state["attempts"], bytes(body[0]), state["failing_since"], state)

    def renew(self, worker: str) -> int:
        """Extend the lease of every send ``worker`` holds: it is alive, however slow the mail server."""
        with self.db.transaction() as tx:
            return tx.run("update sends set lease_until = ? where namespace = ? and worker = ? and status = 'sending'",
                          self._lease_end(), tx.namespace, worker)

    def record_sent(self, claimed: Claimed, reply: str) -> bool:
        """Delivered: the record, the message's deletion and the register entry, in one transaction."""
        with self.db.transaction() as tx:
            ns = tx.namespace
            changed = tx.run("update sends set status = 'sent', reply = ?, updated = ?, lease_until = null, "
                             "worker = null, failing_since = null where namespace = ? and id = ? and status in "
                             "('queued', 'sending', 'retrying')", reply, _now(), ns, claimed.id)
            tx.run("delete from messages where namespace = ? and id = ?", ns, claimed.id)
            if changed:     # registered once, whichever worker records it: one entry for each leaflet it carried
                for leaflet in leaflets_of(claimed.state):
                    insert_entry(tx, leaflet, channel="email", send_id=claimed.id)
        self.db.checkpoint()
        log.info("send %s: sent", claimed.id)
        return bool(changed)

    def record_failed(self, send_id: str, worker: str, reply: str, *, keep: bool) -> None:
        """Failed for good; ``keep``: its message stays (for retention.failed_messages days) so staff can retry."""
        with self.db.transaction() as tx:
            changed = tx.run("update sends set status = 'failed', reply = ?, updated = ?, lease_until = null, "
                             "worker = null where namespace = ? and id = ? and worker = ? and status = 'sending'",
                             reply, _now(), tx.namespace, send_id, worker)
            if changed and not keep:
                tx.run("delete from messages where namespace = ? and id = ?", tx.namespace, send_id)
        self.db.checkpoint()
        log.info("send %s: failed", send_id)

    def record_temporary(self, claimed: Claimed, worker: str, reply: str) -> str:
        """A temporary failure: tried again later with back-off, until retry_days have passed since the first."""
        outbox, now = self.settings.outbox, dt.datetime.now(dt.UTC)
        since = claimed.failing_since or _now()
        if dt.datetime.fromisoformat(since) + dt.timedelta(days=outbox.retry_days) <= now:
            self.record_failed(claimed.id, worker, f"gave up after {claimed.attempts} tries since {since[:16]} UTC: "
                               f"{reply}", keep=True)
            return "failed"
        delay = min(outbox.retry_delay * 2 ** (claimed.attempts - 1), outbox.retry_delay_max)
        with self.db.transaction() as tx:
            tx.run("update sends set status = 'retrying', reply = ?, updated = ?, next_try = ?, failing_since = ?, "
                   "lease_until = null, worker = null where namespace = ? and id = ? and worker = ? and "
                   "status = 'sending'", reply, _now(), _now(delay), since, tx.namespace, claimed.id, worker)
        log.info("send %s: temporary failure, trying again in %.0f s", claimed.id, delay)
        return "retrying"

    def hand_back(self, claimed: Claimed, worker: str, reply: str = "") -> None:
        """Not sent (the worker is stopping, or the outbox paused): back in the queue, this try not counted."""
        with self.db.transaction() as tx:
            tx.run("update sends set status = case when failing_since is null then 'queued' else 'retrying' end, "
                   "attempts = attempts - 1, lease_until = null, worker = null, updated = ?, next_try = ?, "
                   "reply = case when ? = '' then reply else ? end where namespace = ? and id = ? and worker = ? "
                   "and status = 'sending'", _now(), _now(), reply, reply, tx.namespace, claimed.id, worker)

    def pause(self, claimed: Claimed, worker: str, reason: str) -> bool:
        """Stop the line for a fault in the clinic's settings; the send waits. True for the first to say so."""
        with self.db.transaction() as tx:
            first = tx.run("insert into outbox_pause (namespace, since, reason) values (?, ?, ?) on conflict do nothing",
                           tx.namespace, _now(), reason)
        self.hand_back(claimed, worker, f"waiting: the outbox is paused: {reason}")
        return bool(first)

    def heartbeat(self, worker: str) -> None:
        """The worker is running (the desk warns when no worker has said so for WORKER_GONE seconds)."""
        with self.db.transaction() as tx:
            tx.run("delete from workers where namespace = ? and seen < ?", tx.namespace, _now(-WORKER_GONE * 10))
            tx.run("insert into workers (namespace, name, seen) values (?, ?, ?) on conflict (namespace, name) "
                   "do update set seen = excluded.seen", tx.namespace, worker, _now())

    def worker_stopped(self, worker: str) -> None:
        """The worker has stopped (not killed): the desk need not wait for its heartbeat to go stale."""
        with self.db.transaction() as tx:
            tx.run("delete from workers where namespace = ? and name = ?", tx.namespace, worker)

    def worker_running(self) -> bool:
        """Whether some worker (on any machine sharing this outbox) has said it is running in the last minutes."""
        with self.db.transaction() as tx:
            return tx.one("select 1 from workers where namespace = ? and seen >= ?", tx.namespace,
                          _now(-WORKER_GONE)) is not None

    def _lease_end(self) -> str:
        return _now(self.settings.outbox.lease)


def _state(tx: Transaction, send_id: str | None) -> dict[str, Any] | None:
    if not send_id:
        return None
    row = tx.one(f"select {_STATE} from sends where namespace = ? and id = ?", tx.namespace, send_id)
    return _as_state(row) if row else None


def _as_state(row: tuple) -> dict[str, Any]:
    names = [name.strip() for name in _STATE.split(",")]
    state = dict(zip(names, row))
    return json.loads(state.pop("about")) | state


def leaflets_of(send: dict[str, Any]) -> list[dict[str, Any]]:
    """The leaflets one send carries, each with the send's staff, reference and revision. A send keeps its
    first leaflet's record at the top (as a send of one leaflet always has) and, with several, all of them
    under ``leaflets``."""
    shared = {name: value for name, value in send.items() if name != "leaflets"}
    return [shared | leaflet for leaflet in send.get("leaflets") or [{}]]


def leaflet_names(send: dict[str, Any]) -> list[str]:
    """How staff read a send's leaflets: 'BTX-FL-AC v1 · en', '· large print' when it is."""
    return [f"{leaflet.get('code', '')} v{leaflet.get('version', '')} · {leaflet.get('lang', '')}"
            + (" · large print" if leaflet.get("large_print") else "") for leaflet in leaflets_of(send)]


def mask_address(address: str) -> str:
    """The patient's address as staff may see it again: its first letter and its domain (p•••@example.com)."""
    local, _, domain = address.strip().rpartition("@")
    return f"{local[:1]}•••@{domain}" if local else "•••"


def describe(send: dict[str, Any]) -> str:
    """A send's state in words staff can act on: for one being retried, why, since when and the next try (UTC)."""
    status, reply = send["status"], send.get("reply") or ""
    if status == "retrying" and send.get("failing_since"):
        return (f"retrying: {reply} since {send['failing_since'][11:16]} UTC, next try "
                f"{send['next_try'][11:16]} UTC")
    return f"{status}: {reply}" if reply else status


def _now(after_seconds: float = 0) -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=after_seconds)).isoformat(timespec="milliseconds")
