"""`careleaf worker`: deliver the outbox's emails, with N threads, until stopped.

Each thread claims a due send (careleaf.desk.outbox.Outbox.claim), hands the message to the clinic's mail
server and records the outcome. While any thread is sending, the worker renews its lease every third of
``outbox: lease`` seconds, so a slow server (RFC 5321 allows 10 minutes for the last reply) never makes
another worker send the message again; a worker that dies stops renewing, and its send is taken over.

SIGTERM or SIGINT (a service stop, Ctrl+C) stops it gracefully: no new send is taken; a send whose message has
not yet gone to the server is handed back; one that has is finished and recorded. The service's stop timeout
should therefore exceed ``email: timeout``.

Faults: a refused sign-in or an untrusted certificate pauses the outbox with one alert (`careleaf outbox
--resume` continues); a database that cannot be reached is logged in plain words and tried again.
The worker also purges what is past careleaf.yaml's retention, once a day.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
import uuid
from email import message_from_bytes, policy

from careleaf.desk.database import Unavailable
from careleaf.desk.mail import HandedBack, Paused, Permanent, Temporary, deliver
from careleaf.desk.outbox import Claimed, Outbox
from careleaf.desk.retention import due, purge
from careleaf.content.settings import secret

log = logging.getLogger("careleaf.desk.worker")
HEARTBEAT = 30              # seconds between "this worker is running" notes (the desk warns after WORKER_GONE)
PURGE_CHECK = 3600          # seconds between looks at whether the daily purge is due


class Worker:
    def __init__(self, outbox: Outbox, threads: int = 1):
        self.outbox, self.threads = outbox, max(1, threads)
        self.name = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.stopping = threading.Event()
        self._done = threading.Event()      # every delivery thread has ended
        self._said: set[str] = set()        # database problems already logged, so each is logged once

    # --- running ---------------------------------------------------------------------------

    def run(self) -> None:
        """Deliver until SIGTERM or SIGINT; returns once every send in hand is finished or handed back."""
        for number in (signal.SIGTERM, signal.SIGINT):
            signal.signal(number, self._stop)
        threads = [threading.Thread(target=self._deliver_loop, name=f"deliver-{n + 1}", daemon=True)
                   for n in range(self.threads)]
        upkeep = threading.Thread(target=self._upkeep_loop, name="upkeep", daemon=True)
        log.info("worker %s: delivering with %d thread(s)", self.name, self.threads)
        for thread in [upkeep, *threads]:
            thread.start()
        while any(thread.is_alive() for thread in threads):
            for thread in threads:
                thread.join(timeout=0.2)        # short waits, so the signal handler runs promptly
        self._done.set()
        upkeep.join(timeout=10)
        try:
            self.outbox.worker_stopped(self.name)
        except Unavailable as problem:
            self._say(problem)
        log.info("worker %s: stopped", self.name)

    def _stop(self, number, frame) -> None:
        if not self.stopping.is_set():
            log.info("worker %s: stopping (%s): finishing the sends in hand", self.name, signal.Signals(number).name)
        self.stopping.set()

    def _deliver_loop(self) -> None:
        while not self.stopping.is_set():
            try:
                claimed = self.outbox.claim(self.name)
            except Unavailable as problem:
                self._say(problem)
                self.stopping.wait(5)
                continue
            self._said.clear()
            if claimed is None:
                self.stopping.wait(self.outbox.settings.outbox.poll)
                continue
            self.deliver(claimed)

    def _upkeep_loop(self) -> None:
        """Renew the leases of the sends in hand, until the last one is finished (a slow final reply must not be
        taken over meanwhile); purge once a day."""
        every = min(self.outbox.settings.outbox.lease / 3, HEARTBEAT)
        next_purge = 0.0
        while True:
            try:
                self.outbox.renew(self.name)
                if not self.stopping.is_set():
                    self.outbox.heartbeat(self.name)
                if not self.stopping.is_set() and time.monotonic() >= next_purge:
                    next_purge = time.monotonic() + PURGE_CHECK
                    if due(self.outbox.db):
                        log.info("retention: %s", purge(self.outbox.db, self.outbox.settings.retention))
            except Unavailable as problem:
                self._say(problem)
            if self._done.wait(every):
                return

    # --- one send --------------------------------------------------------------------------

    def deliver(self, claimed: Claimed) -> None:
        settings = self.outbox.settings
        message = message_from_bytes(claimed.message, policy=policy.SMTP)
        try:
            try:
                deliver(message, settings.email, secret(settings.email.password_env),
                                proceed=lambda: not self.stopping.is_set())
            except (Temporary, Permanent, Paused, HandedBack):
                raise
            except Exception as error:   # anything else, by its kind only: its message may quote a secret
                raise Temporary(f"an unexpected {type(error).__name__} while sending") from None
        except HandedBack:
            self._record(self.outbox.hand_back, claimed, self.name)
            log.info("send %s: handed back to the queue (the worker is stopping)", claimed.id)
        except Paused as problem:
            if self._record(self.outbox.pause, claimed, self.name, str(problem)):
                log.error("THE OUTBOX IS PAUSED: %s. Nothing more is sent until this is put right and someone "
                          "runs `careleaf outbox --resume`.", problem)
        except Temporary as problem:
            self._record(self.outbox.record_temporary, claimed, self.name, str(problem))
        except Permanent as problem:
            self._record(self.outbox.record_failed, claimed.id, self.name, str(problem), keep=False)
        else:
            self._record(self.outbox.record_sent, claimed, "accepted by the mail server")

    def _record(self, action, *args, **kwargs):
        """Record an outcome, waiting out a database that is down (the send stays leased to this worker, which
        keeps it until the record is made). Gives up 60 s after a stop; the lease then hands it on."""
        deadline = None
        while True:
            try:
                return action(*args, **kwargs)
            except Unavailable as problem:
                self._say(problem)
                if self.stopping.is_set():
                    deadline = deadline or time.monotonic() + 60
                    if time.monotonic() > deadline:
                        return None
                time.sleep(1)

    def _say(self, problem: Unavailable) -> None:
        if str(problem) not in self._said:
            self._said.add(str(problem))
            log.error("%s", problem)
