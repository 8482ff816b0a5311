"""Sending mail through the configured SMTP relay (aiosmtplib): :func:`send` for one message,
:class:`Relay` for a batch over one connection. Every failure is a :class:`SendFailed`."""

from __future__ import annotations

import asyncio
import email.message
import email.utils
from types import TracebackType
from urllib.parse import urlsplit

import aiosmtplib

from app.settings import Settings

SEND_TIMEOUT = 30.0  # seconds one message may take, connecting included


class SendFailed(Exception):
    """The relay did not take the message. ``permanent``: it never will, for this recipient
    (a 5xx reply to the message); otherwise try again later."""

    def __init__(self, reason: str, permanent: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


async def send(
    settings: Settings, message: email.message.EmailMessage, *, timeout: float = SEND_TIMEOUT
) -> None:
    """Send one message on a connection of its own; raises :class:`SendFailed`."""
    async with Relay(settings, timeout=timeout) as relay:
        await relay.send(message)


class Relay:
    """One connection to the relay for a batch of messages, opened by the first send and
    opened again after a failure that dropped it, so each message succeeds or fails alone.

    With ``smtp_starttls`` STARTTLS is required (a relay that does not offer it fails every
    message, temporarily); without it the connection stays plain (never opportunistic: a
    local relay's self-signed certificate must not fail what was configured as plain).
    A failure to connect, greet, upgrade or log in fails the rest of the batch at once
    with the same reason, instead of waiting out one timeout per message.
    """

    def __init__(self, settings: Settings, *, timeout: float = SEND_TIMEOUT) -> None:
        self._settings, self._timeout = settings, timeout
        self._client: aiosmtplib.SMTP | None = None
        self._unreachable: SendFailed | None = None
        self.sender = email.utils.parseaddr(settings.mail_from)[1]

    async def __aenter__(self) -> Relay:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def send(
        self, message: email.message.EmailMessage, recipients: list[str] | None = None
    ) -> None:
        """Send ``message`` to ``recipients`` (default: its To, Cc and Bcc) within the
        timeout, connecting if need be; raises :class:`SendFailed`. With several recipients
        it is sent when the relay takes it for any of them (outbox rows have one)."""
        if self._unreachable is not None:
            raise self._unreachable
        connecting = True
        try:
            async with asyncio.timeout(self._timeout):
                client = await self._connected()
                connecting = False
                await client.send_message(message, sender=self.sender, recipients=recipients)
        except SendFailed as failed:  # from _connected: the relay itself failed
            self._unreachable = failed
            raise
        except aiosmtplib.SMTPRecipientsRefused as exc:  # one recipient: it was refused
            refusal = exc.recipients[0]
            raise SendFailed(_reply("RCPT", refusal), _permanent(refusal.code)) from None
        except aiosmtplib.SMTPSenderRefused as exc:
            # The sender is configuration (temporary: fixing it sends what waits), but 552
            # answers the SIZE of this message (RFC 1870).
            raise SendFailed(_reply("MAIL FROM", exc), exc.code == 552) from None
        except aiosmtplib.SMTPDataError as exc:
            raise SendFailed(_reply("DATA", exc), _permanent(exc.code)) from None
        except aiosmtplib.SMTPNotSupported as exc:  # e.g. a non-ASCII address, no SMTPUTF8
            raise SendFailed(f"the relay cannot take this message: {exc}", True) from None
        except ValueError as exc:  # aiosmtplib refused an address or header before sending
            raise SendFailed(f"the message cannot be sent as it is: {exc}", True) from None
        except TimeoutError:  # ours or aiosmtplib's (SMTPTimeoutError is one)
            self._drop()
            silent = SendFailed(f"the relay did not answer within {self._timeout:g} s", False)
            if connecting:
                self._unreachable = silent
            raise silent from None
        except (aiosmtplib.SMTPException, OSError) as exc:  # disconnected, a bad reply
            self._drop()
            raise SendFailed(f"the relay failed: {exc}", False) from None

    async def _connected(self) -> aiosmtplib.SMTP:
        if self._client is not None and self._client.is_connected:
            return self._client
        settings = self._settings
        if not settings.smtp_host:
            raise SendFailed("SCHEDULER_SMTP_HOST is not set", False)
        password = settings.smtp_password
        client = aiosmtplib.SMTP(
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=None if password is None else password.get_secret_value(),
            start_tls=settings.smtp_starttls,
            # Our public name, not socket.getfqdn(): no DNS lookup, the same on every host.
            local_hostname=urlsplit(settings.public_base_url).hostname or "localhost",
            timeout=self._timeout,
        )
        where = f"{settings.smtp_host}:{settings.smtp_port}"
        try:
            await client.connect()
        except TimeoutError:
            raise SendFailed(f"{where} did not answer within {self._timeout:g} s", False) from None
        except aiosmtplib.SMTPAuthenticationError as exc:  # the reply, never the password
            reason = f"{where} refused the login: {exc.code} {exc.message}"
            raise SendFailed(reason, False) from None
        except (aiosmtplib.SMTPException, OSError) as exc:
            reason = str(exc)
            if settings.smtp_starttls and "STARTTLS" in reason.upper():
                reason += " (SCHEDULER_SMTP_STARTTLS is true)"
            raise SendFailed(f"cannot use the relay {where}: {reason}", False) from None
        self._client = client
        return client

    def _drop(self) -> None:
        if self._client is not None:
            self._client.close()  # no QUIT: the connection is in an unknown state
            self._client = None

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None and client.is_connected:
            try:
                await client.quit(timeout=min(self._timeout, 5.0))
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                client.close()


def _permanent(code: int) -> bool:
    return 500 <= code < 600


def _reply(stage: str, exc: aiosmtplib.SMTPResponseException) -> str:
    return f"{stage}: {exc.code} {exc.message}"
