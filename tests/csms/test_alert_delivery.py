"""Alert delivery: webhooks received by a local HTTP server (the HMAC checked), e-mail by
a local aiosmtpd server, a receiver that is down and comes back (every alert arrives,
in order), a restart of the delivery workers, and the channels' filters."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
import tornado.web
from aiosmtpd.controller import Controller
from tornado.httpserver import HTTPServer

from csms.alert_delivery import Dispatcher, smtp_from_url
from csms.alert_rules import AlertSettings
from csms.services import CsmsSettings
from models.embedded import free_port
from ocppj.timeutil import format_datetime, utcnow
from tests.csms.charger_helpers import booted_charger
from tests.csms.test_alerts import eventually
from tests.handlers.api.support import call, data

SECRET = "s3cret-shared"


@pytest.fixture
def settings():
    """No automatic sweep; retries after 50 ms, at most 200 ms apart."""
    alerts = AlertSettings(interval=3600, backoff_initial=0.05, backoff_max=0.2,
                           delivery_timeout=2)  # fmt: skip
    return CsmsSettings(heartbeat_interval=120, flush_interval=0.02, alerts=alerts)


class Receiver(tornado.web.RequestHandler):
    """Keeps every POST (headers and raw body)."""

    def initialize(self, got: list) -> None:
        self.got = got

    def post(self) -> None:
        self.got.append((dict(self.request.headers), self.request.body))
        self.set_status(204)


def receiver(port: int, got: list) -> HTTPServer:
    server = HTTPServer(tornado.web.Application([(r"/hook", Receiver, {"got": got})]))
    server.listen(port, "127.0.0.1")
    return server


def signed_json(headers: dict, body: bytes) -> dict:
    """The body, after checking its signature."""
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-Csms-Signature"] == expected
    return json.loads(body)


def faulted(connector=1):
    return {"connectorId": connector, "status": "Faulted", "errorCode": "GroundFailure",
            "timestamp": format_datetime(utcnow())}  # fmt: skip


@pytest.mark.gen_test(timeout=20)
async def test_webhook_gets_the_alert_signed_and_then_its_close(
    ws_url, http_url, auth_headers, services, db
):
    port, got = free_port(), []
    server = receiver(port, got)
    try:
        body = {"type": "webhook", "url": f"http://127.0.0.1:{port}/hook", "secret": SECRET}
        response = await call(http_url, "/ocpp/api/alert-channels/", method="POST",
                              headers=auth_headers, json=body)  # fmt: skip
        assert response.code == 201, response.body
        channel = data(response)
        assert channel["secret_set"] is True and "secret" not in channel
        async with booted_charger(ws_url)() as cp:
            assert await cp.call("f", "StatusNotification", faulted()) == [3, "f", {}]
            await eventually(lambda: len(got) == 1)
            available = {**faulted(), "status": "Available", "errorCode": "NoError"}
            assert await cp.call("a", "StatusNotification", available) == [3, "a", {}]
            await eventually(lambda: len(got) == 2)
    finally:
        server.stop()
    opened, closed = (signed_json(*entry) for entry in got)
    alert = await db.alerts.find_one({"rule": "connector_faulted"})
    assert opened["event"] == "opened" and closed["event"] == "closed"
    assert opened["alert"]["id"] == str(alert["_id"]) == closed["alert"]["id"]
    assert (opened["alert"]["charger"], opened["alert"]["status"]) == ("CP1", "open")
    assert opened["alert"]["detail"]["error_code"] == "GroundFailure"
    assert closed["alert"]["status"] == "closed"
    assert closed["delivery"] == opened["delivery"] + 1
    assert got[0][0]["X-Csms-Event"] == "opened"
    assert got[0][0]["Content-Type"] == "application/json"
    stored = await db.alert_deliveries.find().sort("seq", 1).to_list()
    assert [(d["status"], d["attempts"]) for d in stored] == [("delivered", 1)] * 2


@pytest.mark.gen_test(timeout=30)
async def test_receiver_down_then_up_gets_every_alert_in_order(services, db):
    port, got = free_port(), []
    url = f"http://127.0.0.1:{port}/hook"
    await services.alerts.channels.create(
        {"_id": "hook", "type": "webhook", "url": url, "secret": SECRET, "rules": None,
         "chargers": None, "created": utcnow()}
    )  # fmt: skip
    now = utcnow()
    for n in range(5):
        opened = await services.alerts.raise_alert("connector_faulted", f"CP{n}", {"n": n}, now)
        assert opened is not None

    async def failing():
        head = await db.alert_deliveries.find_one({"seq": 1})
        return head["attempts"] >= 3 and head["last_error"]

    error = await eventually(failing)  # down: retried, and the failure shows
    assert "Connection refused" in error or "599" in error
    rows = await db.alert_deliveries.find().sort("seq", 1).to_list()
    assert [(r["seq"], r["status"]) for r in rows] == [(n, "pending") for n in range(1, 6)]
    server = receiver(port, got)
    try:
        await eventually(lambda: len(got) == 5, timeout=10)
    finally:
        server.stop()
    bodies = [signed_json(*entry) for entry in got]
    assert [body["alert"]["detail"]["n"] for body in bodies] == [0, 1, 2, 3, 4]
    assert [body["delivery"] for body in bodies] == sorted(body["delivery"] for body in bodies)
    assert await db.alert_deliveries.count_documents({"status": "delivered"}) == 5


@pytest.mark.gen_test(timeout=30)
async def test_deliveries_queued_before_a_restart_are_sent_after_it(services, db):
    port, got = free_port(), []
    alerts = services.alerts
    await alerts.channels.create({"_id": "hook", "type": "webhook", "rules": None,
                                  "url": f"http://127.0.0.1:{port}/hook", "secret": SECRET,
                                  "chargers": None, "created": utcnow()})  # fmt: skip
    await alerts.raise_alert("clock_skew", "CP1", {"skew_seconds": 900}, utcnow())
    await alerts.dispatcher.stop()  # the server stops with the delivery undelivered
    assert await db.alert_deliveries.count_documents({"status": "pending"}) == 1
    server = receiver(port, got)
    restarted = Dispatcher(alerts.channels, alerts.deliveries, alerts.settings)
    try:
        await restarted.start()
        await eventually(lambda: len(got) == 1)
    finally:
        await restarted.stop()
        server.stop()
    assert signed_json(*got[0])["alert"]["rule"] == "clock_skew"


@pytest.mark.gen_test(timeout=20)
async def test_channel_filters_by_rule_and_charger(services, db):
    alerts = services.alerts
    base = {"type": "webhook", "url": "http://127.0.0.1:9/hook", "secret": "", "created": utcnow()}
    await alerts.channels.create(
        {**base, "_id": "clock", "rules": ["clock_skew"], "chargers": None}
    )
    await alerts.channels.create({**base, "_id": "cp2", "rules": None, "chargers": ["CP2"]})
    await alerts.raise_alert("clock_skew", "CP1", {}, utcnow())
    await alerts.raise_alert("connector_faulted", "CP2", {}, utcnow())
    await alerts.raise_alert("connector_faulted", "CP3", {}, utcnow())
    rows = await db.alert_deliveries.find().sort("seq", 1).to_list()
    assert [row["channel"] for row in rows] == ["clock", "cp2"]
    assert [row["payload"]["alert"]["charger"] for row in rows] == ["CP1", "CP2"]
    await alerts.dispatcher.forget("clock")  # a deleted channel's queue is cancelled, kept
    assert (await db.alert_deliveries.find_one({"channel": "clock"}))["status"] == "cancelled"


class Mailbox:
    """aiosmtpd handler keeping each message's envelope and content."""

    def __init__(self):
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, envelope.rcpt_tos, envelope.content.decode()))
        return "250 OK"


@pytest.mark.gen_test(timeout=20)
async def test_email_reaches_a_local_smtp_server(ws_url, http_url, auth_headers, services):
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        smtp = smtp_from_url(f"smtp://127.0.0.1:{port}?from=csms@example.org")
        body = {"type": "email", "to": ["ops@example.org"], "rules": ["connector_faulted"],
                "smtp": {"host": smtp["host"], "port": smtp["port"],
                         "sender": smtp["sender"]}}  # fmt: skip
        response = await call(http_url, "/ocpp/api/alert-channels/", method="POST",
                              headers=auth_headers, json=body)  # fmt: skip
        assert response.code == 201, response.body
        async with booted_charger(ws_url)() as cp:
            assert await cp.call("f", "StatusNotification", faulted()) == [3, "f", {}]
            await eventually(lambda: len(mailbox.messages) == 1)
    finally:
        controller.stop()
    sender, recipients, content = mailbox.messages[0]
    assert (sender, recipients) == ("csms@example.org", ["ops@example.org"])
    assert "Subject: [CSMS] opened: Connector faulted on CP1" in content
    assert "Charger: CP1" in content and "GroundFailure" in content


def test_smtp_url_parsing():
    assert smtp_from_url("smtps://u%40x:p%3Aw@mail.example:2465?starttls=0&from=a@b") == {
        "host": "mail.example", "port": 2465, "starttls": False, "tls": True,
        "username": "u@x", "password": "p:w", "sender": "a@b",
    }  # fmt: skip
    assert smtp_from_url("smtp://mail.example?starttls=1")["port"] == 25
    with pytest.raises(ValueError):
        smtp_from_url("http://mail.example")
