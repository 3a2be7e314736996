"""The alert API: list with filters, acknowledge, rules, channels, deliveries."""

from __future__ import annotations

import pytest

from ocppj.timeutil import utcnow
from tests.handlers.api.support import assert_error, call, data

ALERTS = "/ocpp/api/alerts/"
RULES = "/ocpp/api/alert-rules/"
CHANNELS = "/ocpp/api/alert-channels/"


async def seed(services):
    """Three alerts: CP1 faulted (open), CP2 faulted (closed), CP1 clock (open)."""
    alerts = services.alerts
    now = utcnow()
    await alerts.raise_alert("connector_faulted", "CP1", {"error_code": "GroundFailure"}, now)
    await alerts.raise_alert("connector_faulted", "CP2", {}, now)
    await alerts.clear_alert("connector_faulted", "CP2", now)
    await alerts.raise_alert("clock_skew", "CP1", {"skew_seconds": 900}, now)


@pytest.mark.gen_test
async def test_list_with_filters(http_url, auth_headers, services):
    await seed(services)
    every = data(await call(http_url, ALERTS, headers=auth_headers))
    assert every["total"] == 3 and every["page"] == 1 and every["per_page"] == 50
    opened = data(await call(http_url, ALERTS + "?open=true", headers=auth_headers))
    assert sorted((a["rule"], a["charger"]) for a in opened["items"]) == [
        ("clock_skew", "CP1"), ("connector_faulted", "CP1"),
    ]  # fmt: skip
    closed = data(await call(http_url, ALERTS + "?open=false", headers=auth_headers))
    [alert] = closed["items"]
    assert (alert["charger"], alert["status"]) == ("CP2", "closed")
    assert alert["title"] == "Connector faulted"
    assert alert["closed"] is not None and alert["acknowledged"] is None
    query = ALERTS + "?charger=CP1&rule=clock_skew"
    one = data(await call(http_url, query, headers=auth_headers))
    assert [(a["rule"], a["detail"]) for a in one["items"]] == [
        ("clock_skew", {"skew_seconds": 900})
    ]
    bad = await call(http_url, ALERTS + "?open=maybe", headers=auth_headers)
    assert_error(bad, 400, "invalid_parameter", "open")
    bad = await call(http_url, ALERTS + "?rule=nope", headers=auth_headers)
    assert_error(bad, 400, "invalid_parameter", "rule")
    assert (await call(http_url, ALERTS)).code == 401


@pytest.mark.gen_test
async def test_acknowledge_with_a_note(http_url, auth_headers, services, db):
    await seed(services)
    alert = await db.alerts.find_one({"rule": "clock_skew"})
    path = f"{ALERTS}{alert['_id']}/ack"
    response = await call(http_url, path, method="POST", headers=auth_headers,
                          json={"note": "NTP fixed on site"})  # fmt: skip
    body = data(response)
    assert response.code == 200
    assert body["acknowledged"]["by"] == "admin"
    assert body["acknowledged"]["note"] == "NTP fixed on site"
    assert body["status"] == "open"  # acknowledged, still open while the clock is off
    stored = await db.alerts.find_one({"_id": alert["_id"]})
    assert stored["acknowledged"]["note"] == "NTP fixed on site"
    missing = await call(http_url, ALERTS + "0123456789abcdef01234567/ack", method="POST",
                         headers=auth_headers, json={})  # fmt: skip
    assert_error(missing, 404, "not_found")
    bad = await call(http_url, path, method="POST", headers=auth_headers, json={"note": 5})
    assert_error(bad, 400, "invalid_field", "note")
    bad = await call(http_url, path, method="POST", headers=auth_headers, json={"other": 1})
    assert_error(bad, 400, "invalid_field", "other")


@pytest.mark.gen_test
async def test_rules_read_and_change(http_url, auth_headers, services, db):
    listed = data(await call(http_url, RULES, headers=auth_headers))["items"]
    rules = {r["rule"]: r for r in listed}
    assert rules["charger_offline"] == {
        "rule": "charger_offline", "title": "Charger offline", "enabled": True, "minutes": 10,
        "clear_minutes": 2,
    }  # fmt: skip
    assert rules["long_transaction"]["hours"] == 24
    assert set(rules) == {
        "charger_offline", "connector_faulted", "no_energy", "long_transaction", "reboot_loop",
        "clock_skew", "security_events", "energy_anomalies", "certificate_expiring",
    }  # fmt: skip
    change = {"charger_offline": {"minutes": 5}, "clock_skew": {"enabled": False}}
    response = await call(http_url, RULES, method="PATCH", headers=auth_headers, json=change)
    changed = {r["rule"]: r for r in data(response)["items"]}
    assert changed["charger_offline"]["minutes"] == 5
    assert changed["clock_skew"]["enabled"] is False
    assert (await db.alert_rules.find_one({"_id": "charger_offline"}))["minutes"] == 5
    for body, field in (
        ({"nope": {}}, "nope"),
        ({"clock_skew": {"minutes": -1}}, "clock_skew.minutes"),
        ({"clock_skew": {"hours": 1}}, "clock_skew.hours"),
        ({"clock_skew": {"enabled": "yes"}}, "clock_skew.enabled"),
    ):
        bad = await call(http_url, RULES, method="PATCH", headers=auth_headers, json=body)
        assert_error(bad, 400, "invalid_field", field)
    assert services.alerts.rules["clock_skew"]["minutes"] == 5  # nothing half-stored


@pytest.mark.gen_test
async def test_channels_create_list_delete(http_url, auth_headers, db):
    webhook = {"type": "webhook", "url": "https://ops.example/hook", "secret": "x" * 32,
               "rules": ["charger_offline"], "name": "on-call"}  # fmt: skip
    response = await call(http_url, CHANNELS, method="POST", headers=auth_headers, json=webhook)
    assert response.code == 201
    created = data(response)
    assert response.headers["Location"] == f"{CHANNELS}{created['id']}/"
    assert created == {"id": created["id"], "type": "webhook", "name": "on-call",
                       "rules": ["charger_offline"], "chargers": None, "source": "api",
                       "url": "https://ops.example/hook", "secret_set": True}  # fmt: skip
    email = {"type": "email", "to": ["ops@example.org"],
             "smtp": {"host": "mail.example", "port": 587, "starttls": True, "username": "u",
                      "password": "pw"}}  # fmt: skip
    response = await call(http_url, CHANNELS, method="POST", headers=auth_headers, json=email)
    assert response.code == 201
    listed = data(await call(http_url, CHANNELS, headers=auth_headers))["items"]
    assert [c["type"] for c in listed] == ["webhook", "email"]
    assert listed[1]["smtp"]["password_set"] is True and "password" not in listed[1]["smtp"]
    assert b"pw" not in (await call(http_url, CHANNELS, headers=auth_headers)).body
    for body, field in (
        ({"type": "sms"}, "type"),
        ({"type": "webhook", "url": "ftp://x"}, "url"),
        ({"type": "email", "to": [], "smtp": {"host": "h"}}, "to"),
        ({"type": "email", "to": ["a@b"], "smtp": {"host": "h", "port": 0}}, "smtp.port"),
        ({**webhook, "rules": ["nope"]}, "rules"),
        ({**webhook, "colour": 1}, "colour"),
    ):
        bad = await call(http_url, CHANNELS, method="POST", headers=auth_headers, json=body)
        assert_error(bad, 400, "invalid_field", field)
    path = f"{CHANNELS}{created['id']}/"
    assert (await call(http_url, path, method="DELETE", headers=auth_headers)).code == 204
    assert (await call(http_url, path, method="DELETE", headers=auth_headers)).code == 404
    assert await db.alert_channels.count_documents({}) == 1


@pytest.mark.gen_test
async def test_deliveries_show_their_state(http_url, auth_headers, services):
    await services.alerts.channels.create(
        {"_id": "down", "type": "webhook", "url": "http://127.0.0.1:9/none", "secret": "",
         "rules": None, "chargers": None, "created": utcnow()}
    )  # fmt: skip
    await services.alerts.raise_alert("reboot_loop", "CP9", {"boots": 6}, utcnow())
    items = data(await call(http_url, "/ocpp/api/alert-deliveries/", headers=auth_headers))["items"]
    [delivery] = items
    assert (delivery["channel"], delivery["event"]) == ("down", "opened")
    assert delivery["status"] == "pending"
