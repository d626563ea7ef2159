"""The front desk's security: who may use it, from where, and what every response carries.

- It listens on this machine (127.0.0.1) unless staff accounts, API tokens and a
  cookie-signing key are configured: beyond this machine it refuses to start
  without them (``check_can_listen``).
- Staff sign in with a password checked against its argon2 hash; failed attempts
  slow further tries from the same address (never a lockout: see LoginLimiter). Sessions are signed, HttpOnly,
  SameSite=Strict cookies, each known to the server (``Sessions``: signing out ends it there); every form
  carries a CSRF token. Served over HTTPS, every answer tells the browser to keep to HTTPS (HSTS).
- X-Forwarded-For and -Proto are believed only from the proxies careleaf.yaml lists (``desk: trusted_proxies``);
  otherwise a client could name any address and dodge the per-address limits.
- The API takes a bearer token from the environment variable the settings name, checked before a request's
  body is read (``ApiTokenGate``).
- Every response, errors and the 500 included, has a Content-Security-Policy with no inline script, and
  requests larger than a form needs are refused before they are read.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
import secrets
import time
from collections import defaultdict, deque

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import HTMLResponse, JSONResponse

from careleaf.content.settings import DeskSettings, secret

MAX_BODY = 64 * 1024          # bytes: the largest form or JSON request (patient fields are short)
FAILED_LOGINS_ALLOWED = 5     # per name from one address, within the window below, before each try must wait
ADDRESS_ALLOWED = 10          # per address, whatever the names
MAX_WAIT = 60                 # seconds: the longest a try must wait after failures
ACCOUNT_PAUSE = 3             # seconds: the longest pause for one name's failures from everywhere
SESSION_HOURS = 12
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
    """Slows password guessing without letting anyone lock a colleague out.

    Failed sign-ins are counted, within the window, per address and per name *from* that address. Past the free
    tries, the next try from there must wait a delay that doubles with each failure (1 s, 2 s, 4 s … at most
    ``MAX_WAIT``); a try before then is refused unchecked (429, with Retry-After). The same name from another
    address is not affected, so a guesser cannot lock an account. Failures for a name from everywhere add a short
    pause before the password is checked (``pause``), never a refusal: guessing one account from many addresses
    is slowed, its owner still signs in.
    """

    def __init__(self, allowed: int = FAILED_LOGINS_ALLOWED, window: float = FAILED_LOGIN_WINDOW, clock=time.monotonic):
        self.allowed, self.window, self.clock = allowed, window, clock
        self.failures: dict[str, deque[float]] = defaultdict(deque)

    def _recent(self, key: str) -> deque[float]:
        times = self.failures.get(key, deque())
        while times and self.clock() - times[0] > self.window:
            times.popleft()
        if key in self.failures and not times:
            del self.failures[key]
        return times

    def _wait(self, key: str, free: int) -> float:
        times = self._recent(key)
        if len(times) < free:
            return 0.0
        return max(0.0, times[-1] + min(2.0 ** (len(times) - free), MAX_WAIT) - self.clock())

    def wait(self, address: str, name: str) -> float:
        """Seconds until a sign-in as ``name`` from ``address`` may be checked; 0 when it may be now."""
        return max(self._wait(f"address:{address}", ADDRESS_ALLOWED), self._wait(_pair(address, name), self.allowed))

    def pause(self, name: str) -> float:
        """Seconds to wait before checking a password for ``name``, after failures from anywhere (at most a few)."""
        return min(max(0, len(self._recent(f"name:{name}")) - self.allowed) * 0.25, ACCOUNT_PAUSE)

    def failed(self, address: str, name: str) -> None:
        if len(self.failures) > MAX_TRACKED:    # a flood of made-up names: forget the oldest rather than grow
            for key in list(self.failures)[: MAX_TRACKED // 2]:
                del self.failures[key]
        for key in (f"address:{address}", _pair(address, name), f"name:{name}"):
            self.failures[key].append(self.clock())

    def succeeded(self, address: str, name: str) -> None:
        for key in (_pair(address, name), f"name:{name}"):
            self.failures.pop(key, None)


def _pair(address: str, name: str) -> str:
    return f"pair:{address}\n{name}"


class Sessions:
    """Signed-in sessions, known to the server: signing out, or a changed password, ends a session here, so a
    copied cookie is no use afterwards. Kept in memory: a restart signs everyone out."""

    def __init__(self, max_age: float = SESSION_HOURS * 3600, clock=time.monotonic):
        self.max_age, self.clock = max_age, clock
        self.live: dict[str, tuple[str, str, float]] = {}      # id: (name, password hash's digest, started)

    def start(self, name: str, password_hash: str) -> str:
        now = self.clock()
        self.live = {sid: v for sid, v in self.live.items() if now - v[2] < self.max_age}
        sid = secrets.token_urlsafe(32)
        self.live[sid] = (name, _digest(password_hash), now)
        return sid

    def name(self, sid: str | None, hashes: dict[str, str]) -> str | None:
        """The member of staff of a live session whose password has not changed since it began; else None."""
        found = self.live.get(sid or "")
        if found is None:
            return None
        name, digest, started = found
        if self.clock() - started >= self.max_age or name not in hashes or _digest(hashes[name]) != digest:
            self.live.pop(sid or "", None)
            return None
        return name

    def end(self, sid: str | None) -> None:
        self.live.pop(sid or "", None)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_matches(session_token: str | None, form_token: str | None) -> bool:
    return bool(session_token and form_token) and hmac.compare_digest(session_token.encode(), form_token.encode())


class Guard:
    """ASGI middleware: refuse oversized requests unread, and add the security headers to every response."""

    def __init__(self, app, max_body: int = MAX_BODY, hsts: bool = False):
        self.app, self.max_body = app, max_body
        self.headers = SECURITY_HEADERS + ([(b"strict-transport-security", b"max-age=31536000")] if hsts else [])

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
                headers += [(name, value) for name, value in self.headers if name not in names]
                message = {**message, "headers": headers}
            await send(message)

        api = scope["path"].startswith("/api/")
        too_large, internal_error = (TOO_LARGE, INTERNAL_ERROR) if api else (TOO_LARGE_PAGE, INTERNAL_ERROR_PAGE)
        length = Headers(scope=scope).get("content-length")
        declared_too_large = length is not None and (not length.isdigit() or int(length) > self.max_body)
        received = 0

        async def limited_receive():
            # Refused when the body is first asked for, not on arrival: a request that may not use the API at
            # all is told so first (ApiTokenGate, 401, inside this guard), as the published contract says.
            nonlocal received
            if declared_too_large:
                raise TooLarge()
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_body:   # sent in chunks without a length: stop reading
                raise TooLarge()
            return message

        try:
            await self.app(scope, limited_receive, secured_send)
        except TooLarge:
            await too_large(scope, receive, secured_send)
        except Exception:
            # The server's own error page is made outside every middleware, without these headers: answer here,
            # with them, then let the error go on to the server's log.
            if not started:
                await internal_error(scope, receive, secured_send)
            raise


class TooLarge(HTTPException):
    """Raised while a body is read; an HTTPException, so FastAPI passes it on rather than calling it a bad body."""

    def __init__(self) -> None:
        super().__init__(413, "Request too large.")


# Error bodies are the API's: {"detail": "what went wrong, in plain words"}.
TOO_LARGE = JSONResponse({"detail": "Request too large."}, status_code=413)
INTERNAL_ERROR = JSONResponse({"detail": "Something went wrong on the server; try again."}, status_code=500)



def _plain_page(title: str, words: str) -> str:
    """A page for a browser made before any template can be (the guard's own answers): plain, in words."""
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title} – careleaf</title>'
            f'<link rel="stylesheet" href="/static/desk.css"></head><body><main id="main"><h1>{title}</h1>'
            f'<div class="problem" role="alert"><p>{words}</p></div><p><a href="/">Back to the desk</a></p>'
            f'</main></body></html>')


TOO_LARGE_PAGE = HTMLResponse(_plain_page("Too much at once", "That form was larger than any the desk sends. "
                                          "Go back and try again, with less text."), status_code=413)
INTERNAL_ERROR_PAGE = HTMLResponse(_plain_page("Something went wrong", "Something went wrong on the server. Go "
                                               "back: your details are still in the form. Try again."),
                                   status_code=500)
NO_TOKEN = "A valid API token is needed (Authorization: Bearer <token>)."


class ApiRateLimiter:
    """Requests per API token: a bucket of ``per_minute`` requests, refilled as the minute goes by. A token that
    has used it up waits (429, Retry-After): a practice-management system's burst cannot fill the render queue."""

    def __init__(self, per_minute: int, clock=time.monotonic):
        self.size, self.rate, self.clock = max(1, per_minute), max(1, per_minute) / 60, clock
        self.buckets: dict[str, tuple[float, float]] = {}      # token's digest: (requests left, when counted)

    def take(self, token: str) -> float:
        """0 when a request with ``token`` may go ahead now (and it is counted); else the seconds to wait."""
        key, now = _digest(token), self.clock()
        left, then = self.buckets.get(key, (self.size, now))
        left = min(self.size, left + (now - then) * self.rate)
        if left < 1:
            self.buckets[key] = (left, now)
            return (1 - left) / self.rate
        self.buckets[key] = (left - 1, now)
        return 0.0


TOO_MANY = "Too many API requests with this token; wait for the time Retry-After gives."


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
        if scope["type"] == "http" and scope["path"].startswith(self.prefix) and scope["path"] not in self.public:
            wait = scope["app"].state.api_limiter.take(Headers(scope=scope).get("authorization") or "")
            if wait > 0:
                slow_down = JSONResponse({"detail": TOO_MANY}, status_code=429,
                                         headers={"Retry-After": str(math.ceil(wait))})
                return await slow_down(scope, receive, send)
        return await self.app(scope, receive, send)


SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),          # patients' leaflets must not stay in a shared browser's cache
]
