"""SMTP submission of one message: through the person's provider (with login) or straight to
the relay's ingress. The final reply is returned, so the person sees the relay's own words.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass

from client.errors import ClientError

TIMEOUT = 60.0


class SubmissionError(ClientError):
    """The mail server refused the message, or could not be reached."""


@dataclass(frozen=True, slots=True)
class Route:
    """Where to submit: host, port, ``starttls``/``tls``/``none``, optional login."""

    host: str
    port: int
    security: str = "starttls"
    user: str | None = None
    password: str | None = None


def submit(route: Route, *, sender: str, recipient: str, message: bytes) -> str:
    """Send ``message``; return the server's final reply (``"250 ..."``) or raise."""
    context = ssl.create_default_context()
    try:
        if route.security == "tls":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                route.host, route.port, timeout=TIMEOUT, context=context
            )
        else:
            smtp = smtplib.SMTP(route.host, route.port, timeout=TIMEOUT)
    except OSError as exc:
        raise SubmissionError(
            f"Cannot reach the mail server {route.host}:{route.port}: {exc}."
        ) from exc
    try:
        smtp.ehlo()
        if route.security == "starttls":
            smtp.starttls(context=context)
            smtp.ehlo()
        if route.user:
            smtp.login(route.user, route.password or "")
        _expect(smtp.mail(sender), "sender")
        _expect(smtp.rcpt(recipient), "recipient")
        code, text = smtp.data(message)
        _expect((code, text), "message")
        return f"{code} {text.decode('utf-8', 'replace')}"
    except smtplib.SMTPAuthenticationError as exc:
        raise SubmissionError(
            f"The mail server refused the login for {route.user}; check user and password."
        ) from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise SubmissionError(f"Sending to {route.host}:{route.port} failed: {exc}.") from exc
    finally:
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()


def _expect(reply: tuple[int, bytes], what: str) -> None:
    code, text = reply
    if not 200 <= code < 300:
        said = " ".join(text.decode("utf-8", "replace").split())
        raise SubmissionError(f"The mail server refused the {what}: {code} {said}")
