"""The front desk's security: who may use it, from where, and what every response carries.

- It listens on this machine (127.0.0.1) unless staff accounts, API tokens and a
  cookie-signing key are configured: beyond this machine it refuses to start
  without them (``check_can_listen``).
- Staff sign in with a password checked against its argon2 hash; failed attempts
  are limited per address and per name. Sessions are signed, HttpOnly,
  SameSite=Strict cookies; every form carries a CSRF token.
- The API takes a bearer token from the environment variable the settings name, checked before a request's
  body is read (``ApiTokenGate``).
- Every response, errors and the 500 included, has a Content-Security-Policy with no inline script, and
  requests larger than a form needs are refused before they are read.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
import time
from collections import defaultdict, deque

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse

from careleaf.content.settings import DeskSettings, secret

MAX_BODY = 64 * 1024          # bytes: the largest form or JSON request (patient fields are short)
FAILED_LOGINS_ALLOWED = 5     # per address and per name, within the window below
FAILED_LOGIN_WINDOW = 15 * 60  # seconds
MAX_TRACKED = 10_000            # addresses and names with recent failures kept in memory
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


class CannotListen(Exception):
    """The server may not start as asked (listening beyond this machine without accounts)."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_can_listen(host: str, desk: DeskSettings, *, tls: bool = True) -> None:
    """Refuse to listen beyond this machine unless it has accounts, API tokens, a signing key and a TLS
    certificate (patients' details, passwords and tokens must not cross the network in clear text)."""
    if is_loopback(host):
        return
    missing = [] if tls else ["a TLS certificate and key (--certfile, --keyfile)"]
    if not desk.accounts:
        missing.append("staff accounts (desk: accounts: in careleaf.yaml, hashes from `careleaf password-hash`)")
    if not api_tokens(desk):
        missing.append(f"API tokens (in the environment variable {desk.api_tokens_env})")
    if not secret(desk.secret_key_env):
        missing.append(f"a cookie-signing key (in the environment variable {desk.secret_key_env})")
    if missing:
        raise CannotListen(f"careleaf serve listens on {host}, beyond this machine, only with " + "; ".join(missing)
                           + ". Without them it listens on 127.0.0.1 only.")


def api_tokens(desk: DeskSettings) -> list[str]:
    return [token.strip() for token in (secret(desk.api_tokens_env) or "").split(",") if token.strip()]


def token_allowed(given: str | None, desk: DeskSettings) -> bool:
    """A bearer token from the Authorization header, compared in constant time with each configured token."""
    scheme, _, offered = (given or "").partition(" ")
    if scheme.lower() != "bearer" or not offered.strip():
        return False
    offered = offered.strip().encode()
    return any(hmac.compare_digest(offered, token.encode()) for token in api_tokens(desk))


# An argon2 hash of a random password nobody knows, checked when a sign-in names no account.
STAND_IN_HASH = "$argon2id$v=19$m=65536,t=3,p=4$jMWW+n/Sytqq/5MbUJbDXA$rAfy2qxHOniiq/BrrBxiSPSf1BCOAORVlaNZbyFhsxI"


def password_hash(password: str) -> str:
    from argon2 import PasswordHasher

    return PasswordHasher().hash(password)


def password_matches(stored_hash: str, password: str) -> bool:
    from argon2 import PasswordHasher
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return PasswordHasher().verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


class LoginLimiter:
    """Counts failed sign-ins per address and per name; too many within the window are refused unchecked."""

    def __init__(self, allowed: int = FAILED_LOGINS_ALLOWED, window: float = FAILED_LOGIN_WINDOW):
        self.allowed, self.window = allowed, window
        self.failures: dict[str, deque[float]] = defaultdict(deque)

    def blocked(self, *keys: str) -> bool:
        now = time.monotonic()
        for key in keys:
            times = self.failures.get(key)
            while times and now - times[0] > self.window:
                times.popleft()
            if times is not None and not times:
                del self.failures[key]
        return any(len(self.failures.get(key, ())) >= self.allowed for key in keys)

    def failed(self, *keys: str) -> None:
        if len(self.failures) > MAX_TRACKED:    # a flood of made-up names: forget the oldest rather than grow
            for key in list(self.failures)[: MAX_TRACKED // 2]:
                del self.failures[key]
        for key in keys:
            self.failures[key].append(time.monotonic())

    def succeeded(self, *keys: str) -> None:
        for key in keys:
            self.failures.pop(key, None)


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_matches(session_token: str | None, form_token: str | None) -> bool:
    return bool(session_token and form_token) and hmac.compare_digest(session_token.encode(), form_token.encode())


class Guard:
    """ASGI middleware: refuse oversized requests unread, and add the security headers to every response."""

    def __init__(self, app, max_body: int = MAX_BODY):
        self.app, self.max_body = app, max_body

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        started = False

        async def secured_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in SECURITY_HEADERS if name not in names]
                message = {**message, "headers": headers}
            await send(message)

        length = Headers(scope=scope).get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            return await TOO_LARGE(scope, receive, secured_send)
        received = 0

        async def limited_receive():
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_body:   # sent in chunks without a length: stop reading
                raise TooLarge()
            return message

        try:
            await self.app(scope, limited_receive, secured_send)
        except TooLarge:
            await TOO_LARGE(scope, receive, secured_send)
        except Exception:
            # The server's own error page is made outside every middleware, without these headers: answer here,
            # with them, then let the error go on to the server's log.
            if not started:
                await INTERNAL_ERROR(scope, receive, secured_send)
            raise


class TooLarge(HTTPException):
    """Raised while a body is read; an HTTPException, so FastAPI passes it on rather than calling it a bad body."""

    def __init__(self) -> None:
        super().__init__(413, "Request too large.")


# Error bodies are the API's: {"detail": "what went wrong, in plain words"}.
TOO_LARGE = JSONResponse({"detail": "Request too large."}, status_code=413)
INTERNAL_ERROR = JSONResponse({"detail": "Something went wrong on the server; try again."}, status_code=500)
NO_TOKEN = "A valid API token is needed (Authorization: Bearer <token>)."


class ApiTokenGate:
    """ASGI middleware: a request to the JSON API without a valid bearer token is refused (401) before its body
    is read, so nothing it sends is parsed for someone who may not use the API. The API's description
    (``public``) is open."""

    def __init__(self, app, prefix: str = "/api/", public: tuple[str, ...] = ("/api/openapi.json",)):
        self.app, self.prefix, self.public = app, prefix, public

    async def __call__(self, scope, receive, send):
        if (scope["type"] == "http" and scope["path"].startswith(self.prefix) and scope["path"] not in self.public
                and not token_allowed(Headers(scope=scope).get("authorization"), scope["app"].state.settings.desk)):
            refused = JSONResponse({"detail": NO_TOKEN}, status_code=401, headers={"WWW-Authenticate": "Bearer"})
            return await refused(scope, receive, send)
        return await self.app(scope, receive, send)


SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),          # patients' leaflets must not stay in a shared browser's cache
]
