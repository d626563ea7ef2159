"""Real servers for the email tests: an SMTP server (aiosmtpd) on 127.0.0.1, and the workers that send to it.

``MailServer`` is the clinic's mail server as careleaf meets it: its own certificate
authority (trustme), STARTTLS required, and a user name and password that it asks for
and takes only over TLS; or, with ``implicit_tls``, TLS from the first byte (port 465
style). It keeps every message it accepts, and can be told to refuse (a 4xx or 5xx reply)
or to stall part-way through a transaction (for some seconds, or until the test releases it), or to drop
the connection once it has the message (before its "250"), so faults are real network behaviour,
not mocks. ``stop()`` then ``start()`` brings it back on the same port ("server down, then up").

``Workers`` runs `careleaf worker` processes (``python generate.py --project DIR worker``), each
logging to its own file, and stops them: SIGTERM or SIGINT (the worker's graceful stop: the send in
hand is finished or handed back first), or SIGKILL for a crash.

Every server and worker is stopped by its fixture even when a test fails.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from conftest import wait_until

USER = "leaflets@harbourskin.example"
PASSWORD = "correct horse battery staple"
HOLD_LIMIT = 120        # seconds a held transaction waits at most, should a test never release it


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (as far as anyone can tell)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Received:
    """One message the server accepted: its envelope and its bytes as they arrived."""

    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    login: str | None
    tls: bool

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.content, policy=email.policy.default)

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])


@dataclass
class _Rule:
    """What the server does at one stage of a transaction, for the next ``times`` transactions (None: always)."""

    stage: str                      # "rcpt" or "data"
    reply: str | None = None        # a refusal such as "451 4.3.0 try later"; {address} is the recipient
    stall: float = 0.0              # seconds to wait before answering (at data: after keeping the message)
    times: int | None = 1
    release: threading.Event | None = None      # instead of ``stall``: wait until the test sets this
    drop: bool = False              # at data: keep the message, then close the connection without a reply


@dataclass
class _Handler:
    server: "MailServer"
    rules: list[_Rule] = field(default_factory=list)

    def _take(self, stage: str) -> _Rule | None:
        with self.server.lock:
            for rule in self.rules:
                if rule.stage == stage:
                    if rule.times is not None:
                        rule.times -= 1
                        if rule.times <= 0:
                            self.rules.remove(rule)
                    return rule
        return None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with self.server.lock:
            self.server.rcpt_attempts += 1
        rule = self._take("rcpt")
        if rule:
            await self._pause(rule)
        if rule and rule.reply:
            return rule.reply.format(address=address)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.server.lock:
            self.server.data_attempts += 1
        rule = self._take("data")
        if rule and rule.reply:
            return rule.reply.format(address=envelope.rcpt_tos[0] if envelope.rcpt_tos else "")
        login = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None
        received = Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.original_content or b""),
                            login, session.ssl is not None or self.server.implicit_tls)
        with self.server.lock:
            self.server.messages.append(received)
        if rule and rule.drop:
            server.transport.abort()
            return "421 4.4.2 connection dropped"      # never reaches the worker: the connection is gone
        if rule:                      # the message has arrived; the worker waits for the server's "250"
            await self._pause(rule)
        return "250 Message accepted for delivery"

    async def _pause(self, rule: _Rule) -> None:
        """A slow server: answer after ``stall`` seconds, or once the test releases the transaction."""
        if rule.release is None and not rule.stall:
            return
        self.server.stalled.set()
        if rule.release is not None:
            await asyncio.to_thread(rule.release.wait, HOLD_LIMIT)
        else:
            await asyncio.sleep(rule.stall)


class MailServer:
    """An SMTP server on 127.0.0.1 with TLS (STARTTLS, or implicit with ``implicit_tls``) and required AUTH."""

    def __init__(self, folder: Path, *, implicit_tls: bool = False, tls: bool = True, auth: bool = True):
        self.implicit_tls, self.tls, self.auth = implicit_tls, tls, auth
        self.port = free_port()
        self.lock = threading.Lock()
        self.messages: list[Received] = []
        self.rcpt_attempts = 0
        self.data_attempts = 0
        self.refused_sessions: set[int] = set()
        self.stalled = threading.Event()
        self.holds: list[threading.Event] = []
        self.handler = _Handler(self)
        self.controller: Controller | None = None
        self.ca = trustme.CA()
        self.ca_file = folder / "mail-ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_file))
        self._server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert("localhost", "127.0.0.1").configure_cert(self._server_context)

    # --- what the server does ---------------------------------------------------------------

    def refuse(self, reply: str, *, at: str = "rcpt", times: int | None = 1) -> None:
        """Answer ``reply`` (e.g. '451 4.3.0 try again later') at RCPT or DATA, ``times`` times (None: always)."""
        with self.lock:
            self.handler.rules.append(_Rule(at, reply=reply, times=times))

    def stall(self, seconds: float, *, at: str = "rcpt", times: int | None = 1) -> None:
        """Wait ``seconds`` before answering RCPT (nothing sent yet) or DATA (the message has arrived)."""
        with self.lock:
            self.stalled.clear()
            self.handler.rules.append(_Rule(at, stall=seconds, times=times))

    def drop(self, *, times: int | None = 1) -> None:
        """Keep the next message, then close the connection before answering it (the worker never hears "250")."""
        with self.lock:
            self.handler.rules.append(_Rule("data", drop=True, times=times))

    def hold(self, *, at: str = "rcpt") -> threading.Event:
        """Keep the next transaction waiting at RCPT or DATA until the event returned is set (``stalled`` is set
        once it waits); stop() releases it too."""
        release = threading.Event()
        with self.lock:
            self.stalled.clear()
            self.holds.append(release)
            self.handler.rules.append(_Rule(at, release=release))
        return release

    # --- what it received -------------------------------------------------------------------

    @property
    def auth_failures(self) -> int:
        """How many connections were refused a sign-in."""
        with self.lock:
            return len(self.refused_sessions)

    def received(self) -> list[Received]:
        with self.lock:
            return list(self.messages)

    def wait_for(self, count: int, timeout: float = 30) -> list[Received]:
        """Wait until at least ``count`` messages have arrived; all of them."""
        wait_until(lambda: len(self.received()) >= count, timeout, what=f"{count} message(s) at the mail server")
        return self.received()

    # --- running --------------------------------------------------------------------------

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login == USER.encode()
              and auth_data.password == PASSWORD.encode())
        if not ok:      # smtplib tries each mechanism the server offers: one refused sign-in is one session
            with self.lock:
                self.refused_sessions.add(id(session))
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    def start(self) -> "MailServer":
        assert self.controller is None, "already running"
        options: dict = {"hostname": "127.0.0.1", "port": self.port, "ready_timeout": 10}
        if self.auth:
            # Over implicit TLS the whole connection is encrypted before AUTH, but aiosmtpd counts only
            # STARTTLS as TLS for auth_require_tls, so it is switched off there (and only there).
            options.update(authenticator=self._authenticate, auth_required=True,
                           auth_require_tls=not self.implicit_tls)
        if self.implicit_tls:
            options.update(ssl_context=self._server_context)
        elif self.tls:
            options.update(tls_context=self._server_context, require_starttls=True)
        self.controller = Controller(self.handler, **options)
        self.controller.start()
        return self

    def stop(self) -> None:
        for release in self.holds:          # a held transaction's thread would otherwise wait out HOLD_LIMIT
            release.set()
        if self.controller is not None:
            try:
                self.controller.stop()
            finally:
                self.controller = None

    @property
    def running(self) -> bool:
        return self.controller is not None

    def settings(self, host: str = "localhost", **overrides) -> dict:
        """The ``email:`` settings of careleaf.yaml for this server."""
        email_settings = {"host": host, "port": self.port,
                          "security": "tls" if self.implicit_tls else ("starttls" if self.tls else "none"),
                          "sender": USER, "timeout": 30}
        if self.auth:
            email_settings.update(user=USER, password_env="CARELEAF_SMTP_PASSWORD")
        return email_settings | overrides

    def environment(self) -> dict[str, str]:
        """What a worker needs in its environment: the password, and this server's CA as the one to trust."""
        return {"CARELEAF_SMTP_PASSWORD": PASSWORD, "SSL_CERT_FILE": str(self.ca_file)}


class Workers:
    """`careleaf worker` processes; the fixture that makes them calls stop_all() whatever happens."""

    def __init__(self, folder: Path, generate: Path):
        self.folder, self.generate = folder, generate
        self.processes: list[subprocess.Popen] = []

    def start(self, root: Path, env: dict[str, str], *options: str) -> subprocess.Popen:
        """A worker for the project at ``root``, with this process's environment and ``env`` (password, CA)."""
        log = open(self._log_file(len(self.processes)), "wb")
        try:
            process = subprocess.Popen([sys.executable, str(self.generate), "--project", str(root), "worker", *options],
                                       env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT)
        finally:
            log.close()
        self.processes.append(process)
        return process

    def kill(self, process: subprocess.Popen) -> None:
        """SIGKILL: the worker stops at once, wherever it is (a power cut, the OOM killer)."""
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def terminate(self, process: subprocess.Popen) -> None:
        """SIGTERM, as a service stop sends: the worker finishes (or hands back) the send in hand, then exits."""
        process.send_signal(signal.SIGTERM)

    def finish_all(self, timeout: float = 60) -> None:
        """SIGINT every running worker, its graceful stop: it finishes the send in hand, takes no other, and
        exits. Returns once all have exited, so nothing they were doing can still reach the mail server;
        AssertionError if one has not exited within ``timeout`` seconds."""
        running = [process for process in self.processes if process.poll() is None]
        for process in running:
            # A signal that arrives while Python is still starting may be lost: wait until the worker runs
            # (it has installed its handlers when it says so).
            wait_until(lambda: process.poll() is not None or "delivering with" in self.log(process), timeout,
                       what="a worker to start")
            process.send_signal(signal.SIGINT)
        for process in running:
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                raise AssertionError(f"a worker had not stopped {timeout} s after SIGINT:\n{self.logs()[-3000:]}") from None

    def stop_all(self) -> None:
        """SIGTERM every worker still running; SIGKILL any that lingers (a send held by a test's server)."""
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)

    def _log_file(self, index: int) -> Path:
        return self.folder / f"worker-{index + 1}.log"

    def log(self, process: subprocess.Popen) -> str:
        """What one worker has logged so far."""
        return self._log_file(self.processes.index(process)).read_text("utf-8", "replace")

    def logs(self) -> str:
        return "\n".join(path.read_text("utf-8", "replace") for path in sorted(self.folder.glob("worker-*.log")))
