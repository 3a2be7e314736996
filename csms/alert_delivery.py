"""Delivering alerts: webhooks (JSON POST signed with HMAC-SHA256) and e-mail (SMTP).

Every opened or closed alert becomes one delivery per matching channel, stored in
``alert_deliveries`` before anything is sent. One worker task per channel sends that
channel's deliveries in order: the oldest undelivered one first, retried with
exponential backoff until it goes through, and only then the next. A receiver that is
down, or a server restart, loses nothing; a failing delivery shows its attempts and last
error. Nothing here blocks the event loop (Tornado's AsyncHTTPClient, aiosmtplib).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib
from tornado.httpclient import AsyncHTTPClient

from csms.alert_rules import RULES, AlertSettings
from models.alerts import AlertChannelRepo, DeliveryRepo
from ocppj.timeutil import format_datetime, utcnow

log = logging.getLogger("csms.alerts")

SIGNATURE_HEADER = "X-CSMS-Signature"
IDLE_RECHECK = 30.0  # seconds: a worker looks at its queue at least this often


def _plain(value: Any) -> Any:
    """``value`` with datetimes as RFC 3339 strings and ObjectIds as strings."""
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def alert_view(doc: dict[str, Any]) -> dict[str, Any]:
    """An alert as the API, the webhooks and the e-mails show it."""
    return _plain({
        "id": doc["_id"], "rule": doc["rule"], "title": RULES.get(doc["rule"], (doc["rule"],))[0],
        "charger": doc["charger"], "status": "open" if doc["open"] else "closed",
        "opened": doc["opened"], "closed": doc.get("closed"), "detail": doc.get("detail") or {},
        "acknowledged": doc.get("acknowledged"),
    })  # fmt: skip


def body_bytes(payload: dict[str, Any]) -> bytes:
    """The exact bytes POSTed (and signed) for a delivery."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()


def signature(secret: str, body: bytes) -> str:
    """The ``X-CSMS-Signature`` value: ``sha256=`` and the hex HMAC-SHA256 of the body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def smtp_from_url(url: str) -> dict[str, Any]:
    """``smtp://user:password@host:port?starttls=1&from=csms@example.org`` as SMTP settings
    (``smtps://`` for TLS from the start)."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError(f"not an smtp:// or smtps:// URL with a host: {url!r}")
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    return {
        "host": parts.hostname, "port": parts.port or (465 if parts.scheme == "smtps" else 25),
        "starttls": query.get("starttls", "0").lower() in ("1", "true", "yes"),
        "tls": parts.scheme == "smtps",
        "username": unquote(parts.username) if parts.username else None,
        "password": unquote(parts.password) if parts.password else None,
        "sender": query.get("from", "csms@localhost"),
    }  # fmt: skip


def matches(channel: dict[str, Any], alert: dict[str, Any]) -> bool:
    """Whether a channel wants this alert (its rule and charger filters; None: all)."""
    rules, chargers = channel.get("rules"), channel.get("chargers")
    if channel.get("enabled") is False:
        return False
    return (not rules or alert["rule"] in rules) and (not chargers or alert["charger"] in chargers)


class Dispatcher:
    """Queues deliveries and runs one ordered worker per channel."""

    def __init__(
        self, channels: AlertChannelRepo, deliveries: DeliveryRepo, settings: AlertSettings
    ):
        self.channels = channels
        self.deliveries = deliveries
        self.settings = settings
        self._workers: dict[Any, asyncio.Task] = {}
        self._wake: dict[Any, asyncio.Event] = {}

    async def start(self) -> None:
        """A worker for every stored channel (their queues may hold deliveries)."""
        for channel in await self.channels.list():
            self.kick(channel["_id"])

    async def stop(self) -> None:
        """Stop every worker (undelivered deliveries stay queued)."""
        for task in self._workers.values():
            task.cancel()
        for task in list(self._workers.values()):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._workers.clear()

    def kick(self, channel_id: Any) -> None:
        """Wake the channel's worker, starting it if need be."""
        self._wake.setdefault(channel_id, asyncio.Event()).set()
        task = self._workers.get(channel_id)
        if task is None or task.done():
            loop = asyncio.get_running_loop()
            self._workers[channel_id] = loop.create_task(self._work(channel_id))

    async def forget(self, channel_id: Any) -> None:
        """A deleted channel: stop its worker, mark its queue cancelled."""
        task = self._workers.pop(channel_id, None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._wake.pop(channel_id, None)
        await self.deliveries.cancel_channel(channel_id)

    async def enqueue(self, event: str, alert: dict[str, Any], now: datetime) -> int:
        """One delivery per channel that wants the alert; how many were queued."""
        view = alert_view(alert)
        queued = 0
        for channel in await self.channels.list():
            if not matches(channel, alert):
                continue
            doc = await self.deliveries.enqueue(
                channel["_id"], alert["_id"], event, {"event": event, "alert": view}, now
            )
            queued += 1
            log.debug("delivery %s queued for channel %s", doc["seq"], channel["_id"])
            self.kick(channel["_id"])
        return queued

    async def _work(self, channel_id: Any) -> None:
        wake = self._wake.setdefault(channel_id, asyncio.Event())
        while True:
            wake.clear()
            channel = await self.channels.get(channel_id)
            if channel is None:
                return
            head = await self.deliveries.head(channel_id)
            wait = IDLE_RECHECK
            if head is not None:
                now = utcnow()
                if head["next_try"] <= now:
                    await self._attempt(channel, head)
                    continue
                wait = min(wait, (head["next_try"] - now).total_seconds())
            with contextlib.suppress(TimeoutError):  # asyncio.timeout: see models/batch.py
                async with asyncio.timeout(max(0.01, wait)):
                    await wake.wait()

    async def _attempt(self, channel: dict[str, Any], delivery: dict[str, Any]) -> None:
        payload = {**delivery["payload"], "delivery": delivery["seq"]}
        try:
            if channel["type"] == "webhook":
                await self._post(channel, payload)
            else:
                await self._mail(channel, payload)
        except Exception as exc:  # every failure is retried; the next waits its turn
            backoff = min(self.settings.backoff_max,
                          self.settings.backoff_initial * 2 ** delivery["attempts"])  # fmt: skip
            why = f"{type(exc).__name__}: {exc}"
            log.warning("delivery %s to %s failed (%s); retry in %.1f s", delivery["seq"],
                        channel["_id"], why, backoff)  # fmt: skip
            await self.deliveries.failed(
                delivery["_id"], why, utcnow() + timedelta(seconds=backoff)
            )
            return
        await self.deliveries.delivered(delivery["_id"], utcnow())

    async def _post(self, channel: dict[str, Any], payload: dict[str, Any]) -> None:
        body = body_bytes(payload)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "csms-alerts",
            "X-CSMS-Event": payload["event"],
            "X-CSMS-Delivery": str(payload["delivery"]),
        }
        if channel.get("secret"):
            headers[SIGNATURE_HEADER] = signature(channel["secret"], body)
        timeout = self.settings.delivery_timeout
        response = await AsyncHTTPClient().fetch(
            channel["url"], method="POST", body=body, headers=headers, raise_error=False,
            connect_timeout=timeout, request_timeout=timeout, follow_redirects=False,
        )  # fmt: skip
        if not 200 <= response.code < 300:
            raise RuntimeError(
                f"HTTP {response.code}" + (f" {response.error}" if response.code == 599 else "")
            )

    async def _mail(self, channel: dict[str, Any], payload: dict[str, Any]) -> None:
        smtp = channel["smtp"]
        alert = payload["alert"]
        message = EmailMessage()
        message["From"] = smtp.get("sender") or "csms@localhost"
        message["To"] = ", ".join(channel["to"])
        message["Subject"] = f"[CSMS] {payload['event']}: {alert['title']} on {alert['charger']}"
        message.set_content(mail_text(payload))
        await aiosmtplib.send(
            message, hostname=smtp["host"], port=int(smtp["port"]),
            start_tls=bool(smtp.get("starttls")), use_tls=bool(smtp.get("tls")),
            username=smtp.get("username") or None, password=smtp.get("password") or None,
            timeout=self.settings.delivery_timeout,
        )  # fmt: skip


def mail_text(payload: dict[str, Any]) -> str:
    """The plain-text body of an alert e-mail."""
    alert = payload["alert"]
    lines = [
        f"Alert {payload['event']}: {alert['title']} ({alert['rule']})",
        f"Charger: {alert['charger']}",
        f"Opened: {alert['opened']}",
    ]
    if alert.get("closed"):
        lines.append(f"Closed: {alert['closed']}")
    lines.append("Detail: " + json.dumps(alert["detail"], sort_keys=True))
    lines.append(f"Alert id: {alert['id']}; delivery {payload['delivery']}")
    return "\n".join(lines) + "\n"


CHANNEL_FIELDS = {"type", "url", "secret", "to", "smtp", "rules", "chargers", "name"}
SMTP_FIELDS = {"host", "port", "starttls", "tls", "username", "password", "sender"}


def _strings(body: dict[str, Any], name: str, limit: int = 100) -> list[str] | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValueError(name, "must be a list of non-empty strings, or null")
    if len(value) > limit:
        raise ValueError(name, f"at most {limit} entries")
    return list(value)


def check_channel(body: dict[str, Any], rules: dict[str, Any]) -> dict[str, Any]:
    """A channel document from an operator's definition; ValueError(field, message) on
    the first bad field. ``rules``: the known rule names (for the rule filter)."""
    unknown = sorted(set(body) - CHANNEL_FIELDS)
    if unknown:
        raise ValueError(unknown[0], "unknown field")
    kind = body.get("type")
    doc: dict[str, Any] = {"type": kind, "name": body.get("name") or ""}
    if not isinstance(doc["name"], str) or len(doc["name"]) > 100:
        raise ValueError("name", "must be a string of at most 100 characters")
    if kind == "webhook":
        url = body.get("url")
        if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
            raise ValueError("url", "must be an http:// or https:// URL")
        if not urlsplit(url).hostname or len(url) > 2000:
            raise ValueError("url", "must name a host (at most 2000 characters)")
        secret = body.get("secret", "")
        if not isinstance(secret, str) or len(secret) > 500:
            raise ValueError("secret", "must be a string of at most 500 characters")
        doc.update(url=url, secret=secret)
    elif kind == "email":
        to = _strings(body, "to")
        if not to or not all("@" in address for address in to):
            raise ValueError("to", "must be a non-empty list of e-mail addresses")
        doc.update(to=to, smtp=_check_smtp(body.get("smtp")))
    else:
        raise ValueError("type", "must be 'webhook' or 'email'")
    doc["rules"] = _strings(body, "rules")
    for rule in doc["rules"] or []:
        if rule not in rules:
            raise ValueError("rules", f"unknown rule {rule!r}")
    doc["chargers"] = _strings(body, "chargers", limit=10_000)
    return doc


def _check_smtp(smtp: Any) -> dict[str, Any]:
    if not isinstance(smtp, dict):
        raise ValueError("smtp", "must be an object with host and port")
    unknown = sorted(set(smtp) - SMTP_FIELDS)
    if unknown:
        raise ValueError(f"smtp.{unknown[0]}", "unknown field")
    host, port = smtp.get("host"), smtp.get("port", 25)
    if not isinstance(host, str) or not host:
        raise ValueError("smtp.host", "is required")
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise ValueError("smtp.port", "must be an integer from 1 to 65535")
    checked = {"host": host, "port": port}
    for name in ("starttls", "tls"):
        if not isinstance(smtp.get(name, False), bool):
            raise ValueError(f"smtp.{name}", "must be true or false")
        checked[name] = smtp.get(name, False)
    for name in ("username", "password", "sender"):
        value = smtp.get(name)
        if value is not None and not isinstance(value, str):
            raise ValueError(f"smtp.{name}", "must be a string or null")
        checked[name] = value
    return checked


def channel_view(doc: dict[str, Any]) -> dict[str, Any]:
    """A channel as the API shows it: secrets never, only whether one is set."""
    view: dict[str, Any] = {
        "id": str(doc["_id"]), "type": doc["type"], "name": doc.get("name") or "",
        "rules": doc.get("rules"), "chargers": doc.get("chargers"),
        "source": doc.get("source", "api"),
    }  # fmt: skip
    if doc["type"] == "webhook":
        view.update(url=doc["url"], secret_set=bool(doc.get("secret")))
    else:
        smtp = doc.get("smtp") or {}
        view["to"] = doc.get("to") or []
        view["smtp"] = {"host": smtp.get("host"), "port": smtp.get("port"),
                        "starttls": bool(smtp.get("starttls")), "tls": bool(smtp.get("tls")),
                        "username": smtp.get("username"), "sender": smtp.get("sender"),
                        "password_set": bool(smtp.get("password"))}  # fmt: skip
    return view


def delivery_view(doc: dict[str, Any]) -> dict[str, Any]:
    """A delivery: its channel, event, state, attempts and last error."""
    return _plain({
        "seq": doc["seq"], "channel": doc["channel"], "alert": doc["alert"],
        "event": doc["event"], "status": doc["status"], "attempts": doc["attempts"],
        "next_try": doc["next_try"] if doc["status"] == "pending" else None,
        "last_error": doc.get("last_error"), "created": doc["created"],
        "delivered": doc.get("delivered"),
    })  # fmt: skip
