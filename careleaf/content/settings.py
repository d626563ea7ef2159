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
      storage: sqlite                  # or redis, for several machines sharing one queue
      redis_url_env: CARELEAF_REDIS_URL
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
from careleaf.content.validate import origin, read_file

LOOPBACK = ("localhost", "127.0.0.1", "::1")
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")


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
    timeout: int = field("Seconds to wait for the server before trying again later", 30)


@dataclass(frozen=True)
class OutboxSettings:
    """Where emails wait until they are delivered."""

    storage: Literal["sqlite", "redis"] = field("sqlite (a file in the data folder) or redis (one queue shared "
                                                "by several machines)", "sqlite")
    redis_url_env: Text = field("For redis: the environment variable holding its address, "
                                "for example redis://127.0.0.1:6379/0", "CARELEAF_REDIS_URL")
    retries: int = field("How many times a temporary failure is tried again before the send fails", 8)
    retry_delay: int = field("Seconds before the first retry; each later one waits twice as long", 30)
    lease: int = field("Seconds after which a send a stopped worker left unfinished is tried again", 300)


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
class Settings:
    """careleaf.yaml: the front desk's settings."""

    email: Optional[EmailSettings] = field("The mail server leaflets are sent through", None)
    outbox: OutboxSettings = field("Where emails wait until delivered", OutboxSettings())
    desk: DeskSettings = field("The front desk's web page and API", DeskSettings())
    data: Text = field("The folder for the outbox and the register, relative to the project", "data")
    staff_env: Text = field("The environment variable naming the member of staff, for the register", "CARELEAF_STAFF")


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


def _cross_check(settings: Settings) -> list[Problem]:
    problems = []
    names = [("staff_env", settings, settings.staff_env), ("redis_url_env", settings.outbox, settings.outbox.redis_url_env),
             ("api_tokens_env", settings.desk, settings.desk.api_tokens_env),
             ("secret_key_env", settings.desk, settings.desk.secret_key_env)]
    for account in settings.desk.accounts:
        if not account.password_hash.startswith("$argon2"):
            problems.append(origin(account).problem("password_hash should be an argon2 hash from "
                                                    "`careleaf password-hash`, never the password itself",
                                                    "password_hash"))
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
