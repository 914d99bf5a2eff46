"""Egress: the worker that delivers queued mail through the smarthost, with backoff.

Each row is leased, sent in its own SMTP transaction, then settled: sent; failed at once on a
permanent (5xx) refusal; or retried after ``retry_first * 2**attempts`` seconds (at most
``retry_max``) until ``give_up_after`` has passed since it was queued, then failed. A row is
settled only after the smarthost's reply, so a crash re-sends at most the one message whose
reply it never recorded, with the same Message-ID. Nothing of a message is ever logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import smtplib
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass

from relay.db.trouble import describe_failure
from relay.mail.config import MailConfig
from relay.mail.outbox import Claimed, Outbox
from relay.mail.outgoing import build_delivery

_log = logging.getLogger(__name__)

BATCH = 50  # messages per connection before the worker looks around again
OUTAGE_BACKOFF_MAX = 60.0
"""Seconds, at most, between two looks at the outbox while the database keeps failing."""


def outage_delay(poll_interval: float, failures: int) -> float:
    """Seconds to wait after ``failures`` database failures in a row: doubling from the poll
    interval up to a minute (or the poll interval, if that is longer)."""
    cap = max(poll_interval, OUTAGE_BACKOFF_MAX)
    return float(min(cap, poll_interval * 2 ** min(failures - 1, 20)))


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one delivery attempt: "sent", "retry" or "failed", and why."""

    kind: str
    detail: str = ""


class Smarthost:
    """The smarthost, spoken to with smtplib (blocking; the worker calls it in a thread)."""

    def __init__(self, config: MailConfig) -> None:
        assert config.smarthost_host is not None, "egress needs a smarthost"
        self.config = config
        self.timeout = config.smarthost_timeout

    def connect(self) -> smtplib.SMTP:
        config, host = self.config, self.config.smarthost_host
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if config.smarthost_security == "tls":
            smtp = smtplib.SMTP_SSL(
                host, config.smarthost_port, timeout=self.timeout, context=context
            )
        else:
            smtp = smtplib.SMTP(host, config.smarthost_port, timeout=self.timeout)
            if config.smarthost_security == "starttls":
                smtp.starttls(context=context)
        if config.smarthost_user:
            smtp.login(config.smarthost_user, config.smarthost_password or "")
        return smtp

    def send(self, smtp: smtplib.SMTP, address: str, data: bytes) -> tuple[Outcome, bool]:
        """One message in its own transaction: its outcome, and whether the connection broke."""
        try:
            smtp.sendmail(self.config.from_address, [address], data)
            return Outcome("sent"), False
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            outcome = _by_code(code, text)
        except smtplib.SMTPResponseException as exc:
            outcome = _by_code(exc.smtp_code, exc.smtp_error)
        except (OSError, smtplib.SMTPException) as exc:
            # Whether the message arrived is unknowable (the reply to DATA may be what was
            # lost), so it goes again later with the same Message-ID.
            return _temporary(exc, "the smarthost connection broke"), True
        try:
            smtp.rset()
        except (OSError, smtplib.SMTPException):
            return outcome, True
        return outcome, False

    @staticmethod
    def close(smtp: smtplib.SMTP) -> None:
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()


def _by_code(code: int, text: bytes | str) -> Outcome:
    said = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    detail = f"the smarthost answered {code} {' '.join(said.split())}"[:500]
    return Outcome("failed" if 500 <= code < 600 else "retry", detail)


def _temporary(exc: BaseException, what: str) -> Outcome:
    return Outcome("retry", f"{what}: {type(exc).__name__}: {exc}"[:500])


class EgressWorker:
    """Sends due outbox rows; :meth:`wake` after queueing, :meth:`close` on shutdown."""

    def __init__(
        self,
        outbox: Outbox,
        config: MailConfig,
        smarthost: Smarthost,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.outbox = outbox
        self.config = config
        self.smarthost = smarthost
        self.clock = clock
        self._wakeup = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="mail-egress")

    def wake(self) -> None:
        self._wakeup.set()

    async def close(self) -> None:
        """Finish the batch in flight (its outcomes are recorded), then stop."""
        self._closing = True
        self._wakeup.set()
        if self._task is not None:
            await self._task

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    async def _run(self) -> None:
        failures = 0
        while not self._closing:
            self._wakeup.clear()
            try:
                if await self.send_due():
                    failures = 0
                    continue
                timeout = await self._idle_seconds()
                failures = 0
            except Exception as exc:  # the database may be away for a while; keep going
                # Nothing is lost: a row is settled only after its outcome is written, and
                # a lease that could not be released lapses on its own.
                failures += 1
                timeout = outage_delay(self.config.poll_interval, failures)
                _log.error(
                    "Mail egress round failed (%s); next try in %.1f s",
                    describe_failure(exc),
                    timeout,
                )
                _log.debug("Mail egress round failure", exc_info=exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout)

    async def _idle_seconds(self) -> float:
        due = await self.outbox.next_due_ms()
        if due is None:
            return self.config.poll_interval
        return min(self.config.poll_interval, max(0.0, (due - self._now_ms()) / 1000))

    async def send_due(self) -> int:
        """Send due rows over one connection, one leased row at a time; how many it handled.

        Leasing one row at a time keeps a lease as short as one message (2 x timeout + 5 s),
        so rows a killed relay held are free again soon after it restarts.
        """
        lease_ms = int((self.smarthost.timeout * 2 + 5) * 1000)
        smtp: smtplib.SMTP | None = None
        handled = 0
        try:
            while handled < BATCH and not self._closing:
                claimed = await self.outbox.claim_due(self._now_ms(), lease_ms, 1)
                if not claimed:
                    break
                row = claimed[0]
                handled += 1
                if row.envelope_body is None:
                    await self.outbox.mark_failed(
                        row.id, self._now_ms(), "the envelope was deleted before it was sent"
                    )
                    continue
                if not row.devices:
                    await self.outbox.mark_failed(
                        row.id, self._now_ms(), "the recipient has no current device to seal to"
                    )
                    continue
                if smtp is None:
                    try:
                        smtp = await asyncio.to_thread(self.smarthost.connect)
                    except (OSError, smtplib.SMTPException) as exc:
                        # Down: this row waits its backoff; the others get their turn next.
                        await self._settle(row, _temporary(exc, "cannot reach the smarthost"))
                        break
                outcome, broken = await asyncio.to_thread(
                    self.smarthost.send, smtp, row.address, self._message(row)
                )
                await self._settle(row, outcome)
                if broken:
                    break
        finally:
            if smtp is not None:
                await asyncio.to_thread(self.smarthost.close, smtp)
        return handled

    def _message(self, row: Claimed) -> bytes:
        assert row.envelope_body is not None
        return build_delivery(
            envelope_body=row.envelope_body,
            devices=row.devices,
            from_address=self.config.from_address,
            to_address=row.address,
            message_id=row.message_id,
            in_reply_to=row.in_reply_to,
            references=row.references,
            created_ms=row.created_ms,
        )

    async def _settle(self, row: Claimed, outcome: Outcome) -> None:
        now = self._now_ms()
        if outcome.kind == "sent":
            await self.outbox.mark_sent(row.id, now)
            return
        if outcome.kind == "failed":
            _log.warning("Mail %d refused by the smarthost; giving up", row.id)
            await self.outbox.mark_failed(row.id, now, outcome.detail)
            return
        delay = min(self.config.retry_max, self.config.retry_first * 2**row.attempts)
        next_ms = now + int(delay * 1000)
        if next_ms - row.created_ms > self.config.give_up_after * 1000:
            _log.warning(
                "Mail %d not delivered after %d attempts; giving up", row.id, row.attempts + 1
            )
            await self.outbox.mark_failed(
                row.id, now, f"gave up after {row.attempts + 1} attempts; last: {outcome.detail}"
            )
            return
        await self.outbox.retry_later(row.id, next_ms, outcome.detail)
