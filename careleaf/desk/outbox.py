"""The outbox: emails wait here until the clinic's mail server has them, through crashes and outages.

It is built on huey, a well-kept task queue: its SQLite storage (a private file in
the project's data folder) by default, or Redis when several machines share one
queue (``outbox: storage: redis`` in careleaf.yaml). ``careleaf worker`` runs
huey's consumer, which delivers.

Each send is kept as two entries in huey's key-value storage:

- ``send:<id>``: its state, with no personal data (which leaflet, the status,
  attempts, the server's last reply with the address taken out): what
  ``careleaf outbox`` and the front desk show;
- the message itself (address, name, leaflet), in a separate storage, deleted as
  soon as the message is delivered or has finally failed.

The queue's task carries only the send's id. huey removes a task when a worker
takes it, so a worker killed mid-send would lose it: instead, a send whose
worker stopped answering for longer than ``lease`` seconds is put back in the
queue when a worker starts, and every minute.

The guarantee (also in the README): a message is delivered at least once, and
more than once only if a worker stops between the mail server accepting it and
the worker recording that (a window of milliseconds); then the copy carries the
same Message-ID, so mail programs show one. The idempotency key (the clinic's
patient reference, leaflet code, version and language) means a second send of
the same leaflet to the same patient is recognised and not sent again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import threading
import uuid
from dataclasses import dataclass
from email import message_from_bytes, policy
from typing import Any

from huey import RedisHuey, SqliteHuey, crontab
from huey.constants import EmptyData
from huey.exceptions import RetryTask
from huey.storage import RedisStorage, SqliteStorage

from careleaf.errors import HandoutError
from careleaf.desk.mail import Permanent, Temporary, deliver
from careleaf.desk.register import register_handout
from careleaf.handout.handouts import HandoutRecord
from careleaf.project import Project
from careleaf.content.settings import Settings, data_folder, secret

log = logging.getLogger("careleaf.desk.outbox")

QUEUE_FILE = "outbox.sqlite3"
PENDING = ("queued", "sending", "retrying")
FINISHED = ("sent", "failed")


def idempotency_key(reference: str, code: str, version: int, lang: str, *, fallback: str | None = None) -> str:
    """The same leaflet version for the same patient: one delivery. Without a reference, ``fallback`` (one
    form on the desk) or else a new key: every send is new."""
    if not reference:
        return hashlib.sha256(f"form\0{fallback}".encode()).hexdigest() if fallback else uuid.uuid4().hex
    return hashlib.sha256(f"{reference}\0{code}\0{version}\0{lang}".encode()).hexdigest()


@dataclass(frozen=True)
class Queued:
    id: str
    status: str            # queued, or sent when the same leaflet already reached this patient
    new: bool              # False: this leaflet was already queued or sent for this patient; that send is returned


class Outbox:
    """The project's outbox: queue a message, deliver it (in a worker), read the state of sends."""

    def __init__(self, project: Project, settings: Settings):
        self.project, self.settings = project, settings
        self.huey, self.payloads = _storages(project, settings)
        self.deliver_task = self.huey.task(name="careleaf.deliver")(self.deliver)
        self._recovering = threading.Lock()
        self.huey.on_startup(name="careleaf.recover-on-start")(self.recover)
        self.huey.periodic_task(crontab(), name="careleaf.recover")(self.recover)

    # --- the desk's side ------------------------------------------------------------------

    def queue(self, message_bytes: bytes, *, key: str, about: dict[str, Any]) -> Queued:
        """Put a message in the outbox. ``about`` is what the register keeps (no name, no address).

        A message with the key of one already queued or sent is not queued again: the earlier send is
        returned (``new`` False), and its message, not this one, is what the patient gets.
        """
        send_id = uuid.uuid4().hex
        # Claiming the key and naming the send are one step, so two desks at once cannot both queue it.
        if not self.huey.storage.put_if_empty(f"key:{key}", send_id.encode()):
            owner = self._key_owner(key)
            earlier = self._read(owner)
            if earlier is None:     # being queued by another request at this moment (a double click)
                return Queued(owner, "queued", new=False)
            if earlier["status"] != "failed":
                return Queued(earlier["id"], earlier["status"], new=False)
            self.huey.storage.put_data(f"key:{key}", send_id.encode())    # the earlier one failed: send anew
        now = _now()
        self.payloads.put_data(send_id, message_bytes)
        self._write({"id": send_id, "key": key, "status": "queued", "attempts": 0, "created": now, "updated": now,
                     "reply": "", **about})
        self.deliver_task(send_id)
        return Queued(send_id, "queued", new=True)

    def status(self, send_id: str) -> dict[str, Any] | None:
        return self._read(send_id)

    def sends(self) -> list[dict[str, Any]]:
        """Every send the outbox knows, oldest first, without personal data."""
        found = [json.loads(value) for key, value in self.huey.storage.result_items().items()
                 if _text(key).startswith("send:")]
        return sorted(found, key=lambda s: s["created"])

    # --- the worker's side -----------------------------------------------------------------

    def deliver(self, send_id: str) -> None:
        """Deliver one queued message (runs in `careleaf worker`)."""
        send = self._read(send_id)
        if send is None or send["status"] in FINISHED or self._leased(send) or not self._claim(send):
            return
        payload = self.payloads.peek_data(send_id)
        if payload is EmptyData:
            return self._finish(send, "failed", "the message was no longer in the outbox")
        message = message_from_bytes(payload, policy=policy.SMTP)
        try:
            try:
                deliver(message, self.settings.email, secret(self.settings.email.password_env))
            except (Temporary, Permanent):
                raise
            except Exception as error:   # anything else, by its kind only: its message may quote a secret
                raise Temporary(f"an unexpected {type(error).__name__} while sending") from None
        except Temporary as problem:
            if send["attempts"] > self.settings.outbox.retries:
                return self._finish(send, "failed", f"gave up after {send['attempts']} attempts: {problem}")
            delay = self.settings.outbox.retry_delay * 2 ** (send["attempts"] - 1)
            self._write(send | {"status": "retrying", "reply": str(problem), "updated": _now(),
                                "next_try": _now(delay)})
            log.info("send %s: temporary failure, trying again in %s s", send_id, delay)
            raise RetryTask(delay=delay) from None
        except Permanent as problem:
            return self._finish(send, "failed", str(problem))
        self._finish(send, "sent", "accepted by the mail server")

    def recover(self) -> int:
        """Queue again every send a stopped worker left unfinished (its lease ran out); how many."""
        if not self._recovering.acquire(blocking=False):
            return 0
        try:
            lease = dt.timedelta(seconds=self.settings.outbox.lease)
            stale = [s for s in self.sends() if s["status"] in PENDING
                     and dt.datetime.fromisoformat(s.get("next_try") or s["updated"]) + lease < dt.datetime.now(dt.UTC)]
            for send in stale:
                log.info("send %s: its worker stopped; queued again", send["id"])
                # A worker that stopped between claiming an attempt and recording it left the claim behind.
                self.huey.storage.delete_data(f"claim:{send['id']}:{send['attempts'] + 1}")
                self._write(send | {"status": "queued", "updated": _now()})
                self.deliver_task(send["id"])
            return len(stale)
        finally:
            self._recovering.release()

    # --- state ----------------------------------------------------------------------------

    def _leased(self, send: dict[str, Any]) -> bool:
        """Another worker is sending it now (it would be put back in the queue once its lease ran out)."""
        lease = dt.timedelta(seconds=self.settings.outbox.lease)
        return send["status"] == "sending" and dt.datetime.fromisoformat(send["updated"]) + lease > dt.datetime.now(dt.UTC)

    def _claim(self, send: dict[str, Any]) -> bool:
        """Take the send for this attempt: only one worker may, even if it was queued twice after a recovery."""
        attempt = send["attempts"] + 1
        if not self.huey.storage.put_if_empty(f"claim:{send['id']}:{attempt}", b"1"):
            return False
        send.update(status="sending", attempts=attempt, updated=_now())
        self._write(send)
        return True

    def _finish(self, send: dict[str, Any], status: str, reply: str) -> None:
        """Record the outcome, drop the personal data, and register a delivery."""
        self._write(send | {"status": status, "reply": reply, "updated": _now(), "next_try": None})
        self.payloads.delete_data(send["id"])
        if isinstance(self.payloads, SqliteStorage):
            # SQLite's write-ahead log still holds the message's pages until a checkpoint copies them back
            # (where secure_delete has zeroed them); the outbox stays open all day, so do it now.
            self.payloads.conn.execute("pragma wal_checkpoint(TRUNCATE)")
        for attempt in range(1, send["attempts"] + 1):
            self.huey.storage.delete_data(f"claim:{send['id']}:{attempt}")
        log.info("send %s: %s", send["id"], status)
        if status == "sent":
            fields = {name: send[name] for name in HandoutRecord.__dataclass_fields__}
            register_handout(self.project, HandoutRecord(**fields), channel="email", staff=send.get("staff", ""),
                             reference=send.get("reference", ""), settings=self.settings,
                             revision=send.get("revision", ""))

    def _read(self, send_id: str | None) -> dict[str, Any] | None:
        if not send_id:
            return None
        value = self.huey.storage.peek_data(f"send:{send_id}")
        return None if value is EmptyData else json.loads(value)

    def _write(self, send: dict[str, Any]) -> None:
        self.huey.storage.put_data(f"send:{send['id']}", json.dumps(send).encode())

    def _key_owner(self, key: str) -> str | None:
        value = self.huey.storage.peek_data(f"key:{key}")
        return _text(value) if value is not EmptyData and value else None


def _storages(project: Project, settings: Settings):
    """huey for the queue and the sends' state, and a storage of the same kind for the messages themselves."""
    if settings.outbox.storage == "redis":
        url = secret(settings.outbox.redis_url_env)
        if not url:
            raise HandoutError([f"outbox: the environment variable {settings.outbox.redis_url_env} should hold the "
                                "Redis address, for example redis://127.0.0.1:6379/0"])
        return (RedisHuey("careleaf", url=url, results=False),
                RedisStorage("careleaf-messages", url=url))
    path = data_folder(project, settings) / QUEUE_FILE
    if not path.exists():      # created private: until delivered, messages are health data
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))

    return (SqliteHuey("careleaf", filename=str(path), results=False, storage_class=PrivateSqliteStorage),
            PrivateSqliteStorage("careleaf-messages", filename=str(path)))


class PrivateSqliteStorage(SqliteStorage):
    def _create_connection(self):
        connection = super()._create_connection()
        # Deleted rows are overwritten, so a delivered message's bytes do not linger in free pages.
        connection.execute("pragma secure_delete = on")
        return connection


def _now(after_seconds: float = 0) -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=after_seconds)).isoformat(timespec="milliseconds")


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
