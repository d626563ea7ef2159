"""The project's settings for the front desk: email, the outbox and the register (``careleaf.yaml``).

The clinic's technical person writes this file once; like every other input it is
checked before anything is done, and a problem is reported at its line. Secrets
are never written in it: it names the environment variables that hold them.

    email:
      host: smtp.clinic.example
      port: 587
      security: starttls               # starttls, tls, or none (only to a relay on this machine)
      user: leaflets@clinic.example
      password_env: CARELEAF_SMTP_PASSWORD
      sender: leaflets@clinic.example
    outbox:
      storage: sqlite                  # or postgresql: one outbox and register for several machines
      database_url_env: CARELEAF_DATABASE_URL
      namespace: harbour-skin          # with postgresql: this project's own sends and register
      retry_days: 3                    # a mail server that cannot be reached is tried again this long
    retention:                         # days each kind of record is kept; `careleaf purge` deletes older ones
      send_records: 30
      idempotency_keys: 30
      failed_messages: 7
      register: 3650
    data: data                         # the outbox and the register (private files)
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Optional

from careleaf.errors import InputError, Problem
from careleaf.project import Project
from careleaf.content.fields import Text, field
from careleaf.content.load import MAX_FILE_BYTES
from careleaf.content.validate import origin, read_file

LOOPBACK = ("localhost", "127.0.0.1", "::1")
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
_NAMESPACE = re.compile(r"^[A-Za-z0-9_-]{1,63}$")


@dataclass(frozen=True)
class EmailSettings:
    """How leaflets are sent: the clinic's mail server."""

    host: Text = field("The mail server's name, for example smtp.clinic.example")
    sender: Text = field("The address leaflets are sent from, for example leaflets@clinic.example; the "
                         "clinic's name is shown beside it")
    port: int = field("The port: 587 for starttls, 465 for tls", 587)
    security: Literal["starttls", "tls", "none"] = field(
        "starttls (port 587) or tls (port 465); none only for a relay on this machine", "starttls")
    user: Optional[Text] = field("The user name to log in with, if the server asks for one", None)
    password_env: Optional[Text] = field("The environment variable holding the password (never the password "
                                         "itself), for example CARELEAF_SMTP_PASSWORD", None)
    # RFC 5321 4.5.3.2: a client waits up to 10 minutes for the reply to the message's final dot; giving up
    # sooner, while the server is still storing the message, is what sends a patient the same email twice.
    timeout: int = field("Seconds to wait for each reply of the mail server (RFC 5321 allows up to 600 for "
                         "the last one) before trying again later", 600)


@dataclass(frozen=True)
class OutboxSettings:
    """Where emails wait until they are delivered, and how long a failing one is tried again."""

    storage: Literal["sqlite", "postgresql", "redis"] = field(
        "sqlite (a file in the data folder, one machine) or postgresql (one outbox and register for several "
        "machines)", "sqlite")
    database_url_env: Text = field("For postgresql: the environment variable holding its address, for example "
                                   "postgresql://careleaf@db.clinic.example/careleaf?sslmode=verify-full",
                                   "CARELEAF_DATABASE_URL")
    namespace: Optional[Text] = field("For postgresql: this project's name in the shared database (letters, "
                                      "digits, - and _); projects with different names never see each other's "
                                      "sends or register", None)
    redis_url_env: Text = field("No longer used: the outbox is kept in SQLite or PostgreSQL", "CARELEAF_REDIS_URL")
    retry_days: float = field("Days a temporary failure (server down, busy, 4xx) is tried again before the "
                              "send fails, as mail servers do", 3.0)
    retry_delay: float = field("Seconds before the first retry; each later one waits twice as long", 30)
    retry_delay_max: float = field("The longest wait between two tries, in seconds", 3600)
    lease: float = field("Seconds a worker holds a send without word before another machine's worker takes it "
                         "over (a running worker renews it every third of this)", 120)
    poll: float = field("Seconds an idle worker waits before looking for new sends", 1.0)


@dataclass(frozen=True)
class Retention:
    """How long the desk keeps each kind of record, in days; `careleaf purge` (and the worker, daily) deletes
    older ones."""

    send_records: int = field("A delivered, failed or cancelled send's record (its state, reference and "
                              "leaflet code; no name, no address)", 30)
    idempotency_keys: int = field("The key that stops the same leaflet being sent twice to one patient", 30)
    failed_messages: int = field("A failed message (address, name, leaflet), kept so staff can retry it after "
                                 "putting the fault right", 7)
    register: int = field("Register entries: which leaflet version each patient was given, and how", 3650)


@dataclass(frozen=True)
class Account:
    """A member of staff who may sign in to the front desk."""

    name: Text = field("The name they sign in with")
    password_hash: Text = field("Their password's argon2 hash, from `careleaf password-hash` (never the password)")


@dataclass(frozen=True)
class DeskSettings:
    """The front desk's web page and API (careleaf serve)."""

    accounts: list[Account] = field("Staff who may sign in; needed to listen beyond this machine", [])
    api_tokens_env: Text = field("The environment variable holding the API's tokens, separated by commas",
                                 "CARELEAF_API_TOKENS")
    secret_key_env: Text = field("The environment variable holding the key that signs sign-in cookies",
                                 "CARELEAF_SECRET_KEY")
    render_workers: int = field("Leaflets rendered at once for the desk, and as many for the API (in workers of "
                                "their own, which yield to the desk's); more requests wait their turn", 2)
    render_timeout: int = field("Seconds one leaflet may take to render before it is stopped", 60)
    https: bool = field("true when served behind HTTPS, so sign-in cookies are sent only over it (and browsers "
                        "are told to use HTTPS only: Strict-Transport-Security)", False)
    trusted_proxies: list[Text] = field("Addresses of the reverse proxies in front of careleaf serve, whose "
                                        "X-Forwarded-For and X-Forwarded-Proto headers are believed; none by "
                                        "default (the headers are then ignored, from anyone)", [])
    api_requests_per_minute: int = field("API requests one token may make a minute; more are answered 429 with "
                                         "Retry-After, so a burst cannot keep the desk waiting", 120)


@dataclass(frozen=True)
class Limits:
    """How large an input may be before careleaf refuses it, checked before any work is done on it.

    The defaults are far above what a clinic's files need; a file over one is most likely a mistake (a
    pasted-in document, a logo exported at poster size), and is refused naming the file and the limit.
    """

    wording_bytes: int = field("The largest wording, brand or settings file (YAML), in bytes", MAX_FILE_BYTES)
    image_bytes: int = field("The largest logo or image, in bytes", 5_000_000)
    svg_elements: int = field("The most elements (shapes, paths, groups) an SVG logo may hold", 20_000)
    image_pixels: int = field("The most pixels (width × height) of a raster image, in a logo or on its own",
                              25_000_000)
    asset_bytes: int = field("The largest stylesheet, font or template, in bytes", 30_000_000)
    render_memory_mb: int = field("The memory (address space) each render worker may use, in MB; a leaflet "
                                  "that needs more fails alone, naming what it was rendering", 3072)


@dataclass(frozen=True)
class Settings:
    """careleaf.yaml: the front desk's settings."""

    email: Optional[EmailSettings] = field("The mail server leaflets are sent through", None)
    outbox: OutboxSettings = field("Where emails wait until delivered", OutboxSettings())
    retention: Retention = field("How long send records, keys and the register are kept", Retention())
    desk: DeskSettings = field("The front desk's web page and API", DeskSettings())
    data: Text = field("The folder for the outbox and the register, relative to the project", "data")
    staff_env: Text = field("The environment variable naming the member of staff, for the register", "CARELEAF_STAFF")
    limits: Limits = field("How large wording, logos, images and stylesheets may be, and render workers' memory",
                           Limits())


def load_settings(project: Project) -> Settings:
    """The project's settings (defaults when it has no careleaf.yaml); InputError for a problem."""
    path = project.settings_file
    if not path.exists():
        return Settings()
    settings, _, problems = read_file(path, Settings)
    if not problems:
        problems = _cross_check(settings)
    if problems:
        raise InputError(problems)
    return settings


def project_limits(project: Project) -> Limits:
    """The project's limits (careleaf.yaml's ``limits``); InputError for a problem in careleaf.yaml."""
    return load_settings(project).limits


def _cross_check(settings: Settings) -> list[Problem]:
    problems = []
    names = [("staff_env", settings, settings.staff_env),
             ("database_url_env", settings.outbox, settings.outbox.database_url_env),
             ("api_tokens_env", settings.desk, settings.desk.api_tokens_env),
             ("secret_key_env", settings.desk, settings.desk.secret_key_env)]
    for account in settings.desk.accounts:
        if not account.password_hash.startswith("$argon2"):
            problems.append(origin(account).problem("password_hash should be an argon2 hash from "
                                                    "`careleaf password-hash`, never the password itself",
                                                    "password_hash"))
    problems += _outbox_problems(settings.outbox)
    email = settings.email
    if email:
        names.append(("password_env", email, email.password_env))
        if email.security == "none" and email.host not in LOOPBACK:
            problems.append(origin(email).problem(
                "security: none sends patients' leaflets unencrypted; it is allowed only to a relay on this machine "
                "(host: localhost). Use starttls or tls", "security"))
        if bool(email.user) != bool(email.password_env):
            problems.append(origin(email).problem("user and password_env go together: give both, or neither", "user"))
        if "@" not in email.sender or any(c in email.sender for c in "<>,; "):
            problems.append(origin(email).problem("sender should be one plain address, for example "
                                                  "leaflets@clinic.example", "sender"))
    for name, owner, value in names:
        if value and not _ENV_NAME.match(value):
            problems.append(origin(owner).problem(f"{name} should be the name of an environment variable, in capitals, "
                                                  "such as CARELEAF_SMTP_PASSWORD (never the secret itself)", name))
    return problems


def _outbox_problems(outbox: OutboxSettings) -> list[Problem]:
    problems = []
    if outbox.storage == "redis":
        problems.append(origin(outbox).problem(
            "storage: redis is no longer offered: for several machines, use postgresql (one outbox and one "
            "register for all of them; see the admin guide's group set-up page)", "storage"))
    if outbox.storage == "postgresql" and not outbox.namespace:
        problems.append(origin(outbox).problem(
            "namespace: with postgresql, name this project (for example harbour-skin); every machine of the "
            "clinic uses the same name, and another project on the same server another one", "storage"))
    if outbox.namespace and not _NAMESPACE.match(outbox.namespace):
        problems.append(origin(outbox).problem("namespace: letters, digits, - and _ only, up to 63", "namespace"))
    for name in ("retry_days", "retry_delay", "retry_delay_max", "lease", "poll"):
        if getattr(outbox, name) <= 0:
            problems.append(origin(outbox).problem(f"{name}: should be more than 0", name))
    return problems


def data_folder(project: Project, settings: Settings) -> Path:
    """The private folder for the outbox and the register; made readable by its owner only."""
    folder = (project.root / settings.data).resolve()
    if project.is_shared_output(folder):
        raise InputError([Problem(project.settings_file, 1, 1, "data: the outbox and the register hold "
                                  "patients' data and may not be inside out/, the catalog's shared folder")])
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(folder, 0o700)       # also when it was already there, made by someone else's umask
    return folder


def secret(name: str | None) -> str | None:
    """A secret from the environment variable the settings name; never from a file."""
    return os.environ.get(name) if name else None
