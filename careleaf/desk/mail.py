"""A leaflet as an email to one patient, and its delivery through the clinic's mail server.

What travels in plain text (the envelope, To, From, Subject) names the clinic
only: no treatment, no name, no leaflet code. The body's words come from the
template words (``email_*`` in ``templates/labels/<lang>.yaml``) in the
leaflet's language, as a plain-text part and an accessible HTML part
(``templates/email/message.html``); the leaflet is attached as
``<brand>-leaflet.pdf``, optionally locked with AES-256. Several leaflets for one
patient travel in one message, each its own PDF, locked with the same password.
"""

from __future__ import annotations

import email.utils
import functools
import io
import os
import re
import secrets
import smtplib
import socket
import ssl
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from typing import Sequence

from careleaf.errors import HandoutError
from careleaf.leaflet.html import environment
from careleaf.project import Project
from careleaf.content.settings import EmailSettings, LOOPBACK

# A template word ending so is the one said instead when a message carries several leaflets ("email_subject" ->
# "email_subject_several"); a language whose file lacks one (a project's own file written before they existed)
# says the one-leaflet words, which still read true.
SEVERAL = "_several"
# Letters and digits that cannot be mistaken for one another when read out over the phone.
_PASSWORD_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"


class Temporary(Exception):
    """The server could not take the message now (down, busy, a 4xx reply): try again later."""


class Permanent(Exception):
    """The server refused the message (a 5xx reply): trying again would not help."""


class Paused(Exception):
    """The clinic's own settings are wrong (a refused sign-in, an untrusted certificate, a server without
    STARTTLS): every message would fail the same way, so the outbox stops until someone puts it right."""


class HandedBack(Exception):
    """The worker is stopping and the message had not been given to the server: it goes back to the queue."""


def check_address(address: str) -> str:
    """One patient's address, normalised; HandoutError (never echoing it) for anything else."""
    from email_validator import EmailNotValidError, validate_email

    if not isinstance(address, str) or len(address) > 254 or any(c in address for c in ",;<>\r\n\t\"'"):
        raise HandoutError(["email: give one address, such as name@example.com (one patient per message)"])
    try:
        # No look-up of the domain: the front desk must not wait on, or leak to, DNS servers.
        # ASCII only (an international domain as punycode): a UTF-8 address would need SMTPUTF8 end to end.
        return validate_email(address.strip(), check_deliverability=False, allow_smtputf8=False).ascii_email
    except EmailNotValidError:
        raise HandoutError(["email: not a valid address; check it with the patient"]) from None


def new_password() -> str:
    """A password for a locked leaflet, easy to read out: four groups of four (about 79 bits)."""
    return "-".join("".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(4)) for _ in range(4))


def lock_pdf(pdf: bytes, password: str) -> bytes:
    """The PDF encrypted with AES-256; it still prints, and screen readers may still read its text."""
    import pikepdf

    if len(password) < 8:
        raise HandoutError(["password: at least 8 characters"])
    allow = pikepdf.Permissions(accessibility=True, extract=True, print_lowres=True, print_highres=True,
                                modify_annotation=False, modify_assembly=False, modify_form=False, modify_other=False)
    with pikepdf.open(io.BytesIO(pdf)) as document:
        out = io.BytesIO()
        # R=6 is AES-256 (PDF 2.0's standard security handler); the owner password is thrown away.
        document.save(out, encryption=pikepdf.Encryption(user=password, owner=secrets.token_urlsafe(24), R=6,
                                                         allow=allow))
    return out.getvalue()


def compose(project: Project, *, pdf: bytes, file_name: str, to: str, sender: str, clinic: str, phone: str,
            lang: str, direction: str, words: dict[str, str], locked: bool,
            also: Sequence[tuple[bytes, str]] = ()) -> EmailMessage:
    """The message for one patient: plain text and HTML in the leaflet's language, the leaflet attached, and
    ``also`` (PDF, file name) each attached after it, its own file."""
    if also:        # several leaflets: the words that say so ("email_body_several" for "email_body"), where given
        words = words | {word[:-len(SEVERAL)]: text for word, text in words.items() if word.endswith(SEVERAL)}

    def say(word: str) -> str:
        return words[word].replace("{clinic}", clinic).replace("{phone}", phone)

    paragraphs = [say("email_body")] + ([say("email_locked")] if locked else []) + [say("email_questions")]
    message = EmailMessage(policy=SMTP)     # SMTP policy: refuses a line break in any header
    message["Subject"] = say("email_subject")
    message["From"] = Address(display_name=clinic, addr_spec=sender)
    message["To"] = to
    message["Date"] = email.utils.formatdate(localtime=False)
    # Random, so it says nothing of the patient; a retry sends these same bytes, so the same Message-ID.
    message["Message-ID"] = email.utils.make_msgid(domain=sender.rpartition("@")[2])
    message["Auto-Submitted"] = "auto-generated"
    message.set_content("\n\n".join([say("email_greeting"), *paragraphs, clinic]) + "\n")
    html = environment(project.template_folders).get_template("email/message.html").render(
        lang=lang, direction=direction, label=words, clinic=clinic, phone=phone, locked=locked)
    message.add_alternative(html, subtype="html")
    for attached, name in [(pdf, file_name), *also]:
        message.add_attachment(attached, maintype="application", subtype="pdf", filename=name)
    message["Content-Language"] = lang      # after the parts: setting content clears content headers
    return message


def deliver(message: EmailMessage, settings: EmailSettings, password: str | None, proceed=lambda: True) -> str:
    """Hand the message to the clinic's server; its reply. Raises Temporary, Permanent or Paused, with the
    reply in plain words and the recipient's address taken out of it; HandedBack when ``proceed()`` says,
    after signing in, that the worker is stopping (nothing of the message has left then)."""
    recipient = str(message["To"])
    try:
        with _connect(settings) as server:
            if settings.user:
                server.login(settings.user, password or "")
            if not proceed():
                raise HandedBack()
            refused = server.send_message(message)
            if refused:     # only one recipient, so this is not reached; kept as a guard
                raise Permanent("the server refused the recipient")
            return "accepted"
    except smtplib.SMTPRecipientsRefused as error:     # about this patient's address: a 5xx is final
        code, reply = next(iter(error.recipients.values()))
        raise _by_code(code, reply, recipient) from None
    except smtplib.SMTPAuthenticationError as error:
        # The clinic's own settings (a changed password): the outbox waits for the fix, without hammering.
        raise Paused(f"the mail server refused careleaf's sign-in ({error.smtp_code} "
                     f"{_scrub(_text(error.smtp_error), recipient)}): check email: user and the password") from None
    except smtplib.SMTPSenderRefused as error:
        said = f"{error.smtp_code} {_scrub(_text(error.smtp_error), recipient)}"
        if 400 <= error.smtp_code < 500:
            raise Temporary(said) from None
        raise Paused(f"the mail server refused the sender address ({said}): check email: sender and the "
                     "brands' sender") from None
    except smtplib.SMTPResponseException as error:
        raise _by_code(error.smtp_code, error.smtp_error, recipient) from None
    except smtplib.SMTPNotSupportedError as error:   # no STARTTLS, no AUTH: waiting will not change that
        raise Paused(f"the mail server does not offer what the settings need: {error}") from None
    except ssl.SSLCertVerificationError as error:
        raise Paused(f"the mail server's certificate could not be trusted: {error.verify_message}") from None
    except (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, socket.timeout, ConnectionError,
            OSError) as error:
        raise Temporary(f"could not reach the mail server: {type(error).__name__}: {_scrub(str(error), recipient)}") \
            from None


def message_id(message: bytes) -> str:
    """A queued message's Message-ID (random, saying nothing of the patient): the same on every try."""
    from email.parser import BytesHeaderParser

    return str(BytesHeaderParser(policy=SMTP).parsebytes(message).get("Message-ID", ""))


# RFC 5321 4.5.3.2 gives a client 5 minutes for most replies and 10 for the one after the message's final
# dot; connecting, though, either works in seconds or not at all.
CONNECT_TIMEOUT = 60


def _tls_context() -> ssl.SSLContext:
    """A context that verifies the server's certificate and name, made once per trust store (SSL_CERT_FILE,
    SSL_CERT_DIR, else the system's): making one reads the whole certificate bundle, which cost a worker half
    its time per message when it was made for each."""
    return _context_for(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))


@functools.lru_cache(maxsize=4)
def _context_for(cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
    return ssl.create_default_context()     # reads the two variables itself; they are the cache's key


def _connect(settings: EmailSettings) -> smtplib.SMTP:
    context = _tls_context() if settings.security in ("tls", "starttls") else None
    timeout = min(CONNECT_TIMEOUT, settings.timeout)
    if settings.security == "tls":
        server = smtplib.SMTP_SSL(settings.host, settings.port, timeout=timeout, context=context)
    else:
        server = smtplib.SMTP(settings.host, settings.port, timeout=timeout)
    server.timeout = settings.timeout
    server.sock.settimeout(settings.timeout)     # every reply after the greeting, the final one included
    if settings.security == "starttls":
        try:
            server.starttls(context=context)
        except BaseException:
            server.close()
            raise
    elif settings.host not in LOOPBACK:   # settings refuse this too; checked again where it matters
        server.close()
        raise Permanent("unencrypted email is allowed only to a relay on this machine")
    return server


def _by_code(code: int, reply: bytes | str, recipient: str) -> Exception:
    said = f"{code} {_scrub(_text(reply), recipient)}"
    return Temporary(said) if 400 <= code < 500 else Permanent(said)


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def _scrub(text: str, recipient: str) -> str:
    """A server's reply without the patient's address in it (servers often quote it back)."""
    return re.sub(re.escape(recipient), "<recipient>", text, flags=re.IGNORECASE) if recipient else text
