"""Security profiles 1 and 2 on the real server (OCPP_RULES 20-21): HTTP Basic checked before
the upgrade, both key forms, no downgrade to ws://, failures recorded and rate limited."""

from __future__ import annotations

import asyncio
import base64
import logging
import time

import pytest
import websockets
from websockets.exceptions import InvalidStatus

from auth.charger_keys import TEXT_FORM, generate_key, hash_key
from handlers.chargepoint.admission import FAILED_LOGIN
from handlers.chargepoint.limits import LimitSettings
from handlers.routes import make_app
from ocppj.timeutil import utcnow
from tests.charge_points import OCPP16, raw_charger
from tests.conftest import COOKIE_SECRET

FAILURES_BEFORE_429 = 4


@pytest.fixture
def app(services, registry, web_settings):
    """The application with a small failure limit so the 429 is quick to reach."""
    return make_app(
        services, registry, web=web_settings, cookie_secret=COOKIE_SECRET,
        ping_interval=None, ping_timeout=None,
        limits=LimitSettings(auth_failures=FAILURES_BEFORE_429),
    )  # fmt: skip


def basic(user: str | bytes, password: str | bytes) -> dict[str, str]:
    """An Authorization header for HTTP Basic."""
    user = user.encode() if isinstance(user, str) else user
    password = password.encode() if isinstance(password, str) else password
    return {"Authorization": "Basic " + base64.b64encode(user + b":" + password).decode()}


async def add_charger(services, charger_id: str, profile: int, form: str = "hex"):
    """A charger with a security profile and a fresh key; returns the key."""
    key = generate_key(form)
    await services.chargers.create(charger_id, {}, utcnow())
    security = {"profile": profile, "key_hash": hash_key(key.secret), "key_set_at": utcnow()}
    await services.chargers.update(charger_id, {"security": security})
    return key


async def refused(url: str, headers: dict[str, str] | None = None, **connect) -> object:
    """Connect expecting an HTTP answer instead of the upgrade; return that response."""
    with pytest.raises(InvalidStatus) as info:
        async with websockets.connect(
            url, subprotocols=OCPP16, additional_headers=headers or {}, **connect
        ):
            pass
    return info.value.response


async def events(db, charger_id: str) -> list[dict]:
    """Stored security events of a charger, oldest first."""
    return await db.security_events.find({"charger": charger_id}).sort("ts", 1).to_list()


@pytest.mark.gen_test
async def test_profile_1_without_credentials_gets_401_before_the_upgrade(ws_url, services, db):
    await add_charger(services, "P1", 1)
    response = await refused(ws_url("/ocpp/P1/"))
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Basic realm="csms"'
    assert response.body == b"unauthorized"
    [event] = await events(db, "P1")
    assert event["type"] == FAILED_LOGIN
    assert (event["source"], event["reason"]) == ("csms", "no_credentials")
    assert (event["ip"], event["tls"]) == ("127.0.0.1", False)
    assert (await db.chargers.find_one({"_id": "P1"}))["connected"] is False


@pytest.mark.gen_test
async def test_wrong_username_gets_401(ws_url, services, db):
    key = await add_charger(services, "P1", 1)
    response = await refused(ws_url("/P1/"), basic("P2", key.hex))
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Basic realm="csms"'
    assert [event["reason"] for event in await events(db, "P1")] == ["wrong_username"]


@pytest.mark.gen_test
async def test_wrong_key_gets_401_and_no_key_is_logged_or_stored(ws_url, services, db, caplog):
    caplog.set_level(logging.DEBUG)
    await add_charger(services, "P1", 1)
    wrong = generate_key().hex
    response = await refused(ws_url("/P1/"), basic("P1", wrong))
    assert response.status_code == 401
    [event] = await events(db, "P1")
    assert event["reason"] == "wrong_key"
    assert wrong not in str(event)
    assert wrong not in caplog.text
    assert "P1: login refused from 127.0.0.1: wrong_key" in caplog.text


@pytest.mark.gen_test
async def test_malformed_credentials_get_401(ws_url, services, db):
    await add_charger(services, "P1", 1)
    response = await refused(ws_url("/P1/"), {"Authorization": "Basic ###"})
    assert response.status_code == 401
    response = await refused(ws_url("/P1/"), {"Authorization": "Bearer abc"})
    assert response.status_code == 401
    reasons = [event["reason"] for event in await events(db, "P1")]
    assert reasons == ["malformed_credentials", "malformed_credentials"]


@pytest.mark.gen_test
async def test_hex_key_connects_in_both_forms(ws_url, services, db):
    key = await add_charger(services, "P1", 1)
    for password in (key.hex, key.hex.upper(), key.secret):
        async with raw_charger(ws_url("/P1/"), additional_headers=basic("P1", password)) as cp:
            assert cp.ws.subprotocol == "ocpp1.6"
            reply = await cp.boot()
            assert reply[0] == 3 and reply[2]["status"] == "Accepted"
    assert await events(db, "P1") == []


@pytest.mark.gen_test
async def test_text_key_connects_in_both_forms(ws_url, services):
    key = await add_charger(services, "Bay.e_1", 1, TEXT_FORM)
    for password in (key.text, key.hex):
        headers = basic("Bay.e_1", password)
        async with raw_charger(ws_url("/Bay.e_1/"), additional_headers=headers) as cp:
            assert (await cp.boot())[0] == 3


@pytest.mark.gen_test
async def test_profile_1_with_no_key_set_is_refused(ws_url, services, db):
    await services.chargers.create("P1", {"security": {"profile": 1}}, utcnow())
    response = await refused(ws_url("/P1/"), basic("P1", "0123456789abcdef"))
    assert response.status_code == 401
    assert [event["reason"] for event in await events(db, "P1")] == ["no_key_set"]


@pytest.mark.gen_test
async def test_profile_2_is_refused_over_plain_ws_even_with_the_right_key(ws_url, services, db):
    key = await add_charger(services, "P2", 2)
    response = await refused(ws_url("/P2/"), basic("P2", key.hex))
    assert response.status_code == 403
    assert b"security profile 2 requires wss://" in response.body
    [event] = await events(db, "P2")
    assert (event["reason"], event["tls"]) == ("tls_required", False)
    assert "rotate the key" in event["tech_info"]
    assert key.hex not in str(event)


@pytest.mark.gen_test
async def test_forwarded_proto_does_not_count_as_tls(ws_url, services):
    """Without ``trust_proxy_headers`` a client cannot claim TLS (no downgrade, rule 21)."""
    key = await add_charger(services, "P2", 2)
    headers = basic("P2", key.hex) | {"X-Forwarded-Proto": "https", "X-Scheme": "https"}
    response = await refused(ws_url("/P2/"), headers)
    assert response.status_code == 403


@pytest.mark.gen_test
async def test_profile_0_and_unknown_chargers_need_no_credentials(ws_url, services, db):
    await services.chargers.create("P0", {}, utcnow())
    async with raw_charger(ws_url("/P0/")) as cp:
        assert (await cp.boot())[0] == 3
    async with raw_charger(ws_url("/NEW1/"), additional_headers=basic("x", "y")) as cp:
        assert (await cp.boot())[0] == 3
    assert await db.chargers.find_one({"_id": "NEW1"}) is not None
    assert await db.security_events.count_documents({}) == 0


@pytest.mark.gen_test
async def test_failures_from_one_ip_get_429_before_the_credentials_are_checked(
    ws_url, services, db
):
    key = await add_charger(services, "P1", 1)
    for _ in range(FAILURES_BEFORE_429):
        assert (await refused(ws_url("/P1/"), basic("P1", "x" * 16))).status_code == 401
    response = await refused(ws_url("/P1/"), basic("P1", key.hex))  # even the right key
    assert response.status_code == 429
    assert 55 <= int(response.headers["Retry-After"]) <= 60
    await services.chargers.create("P0", {}, utcnow())
    assert (await refused(ws_url("/P0/"))).status_code == 429  # the IP, not the charger
    # Only the failures are stored; a 429 costs no database write.
    assert await db.security_events.count_documents({}) == FAILURES_BEFORE_429


@pytest.mark.gen_test(timeout=60)
async def test_200_chargers_log_in_at_once(ws_url, services):
    """A reconnect storm: every login succeeds, well within a handshake timeout (rule 20)."""
    count = 200
    keys = {}
    for number in range(count):
        keys[f"S{number}"] = generate_key()
    docs = [
        {"_id": cid, "name": cid, "security": {"profile": 1, "key_hash": hash_key(key.secret)}}
        for cid, key in keys.items()
    ]
    await services.db.chargers.insert_many(docs)

    async def login(cid: str) -> float:
        started = time.perf_counter()
        async with websockets.connect(
            ws_url(f"/{cid}/"), subprotocols=OCPP16,
            additional_headers=basic(cid, keys[cid].hex), open_timeout=30,
        ):  # fmt: skip
            return time.perf_counter() - started

    durations = await asyncio.gather(*(login(cid) for cid in keys))
    assert len(durations) == count
    assert max(durations) < 15
