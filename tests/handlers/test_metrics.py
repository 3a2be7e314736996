"""``GET /metrics``: the Prometheus text format parsed by prometheus_client's own parser,
counters moving by exactly the frames sent, bounded series for 10,000 chargers, the
token protection, and the open loopback port."""

from __future__ import annotations

import pytest
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from tornado.httpclient import AsyncHTTPClient
from tornado.httpserver import HTTPServer
from websockets.exceptions import InvalidStatus

from csms.metrics import Metrics
from csms.registry import ConnectionRegistry
from handlers.metrics import make_metrics_app
from models.embedded import free_port
from ocppj.timeutil import format_datetime, utcnow
from tests.charge_points import raw_charger
from tests.handlers.api.support import call


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """(sample name, sorted labels) -> value, from the exposition text."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


async def scrape(http_url, headers) -> dict[tuple[str, tuple], float]:
    response = await call(http_url, "/metrics", headers=headers)
    assert response.code == 200, response.body
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    return samples(response.body.decode())


def received(action: str, result: str = "CALLRESULT") -> tuple[str, tuple]:
    return ("csms_ocpp_messages_received_total", (("action", action), ("result", result)))


@pytest.mark.gen_test
async def test_counters_move_by_exactly_the_frames_sent(ws_url, http_url, auth_headers):
    before = await scrape(http_url, auth_headers)
    assert before[("csms_connected_chargers", ())] == 0
    async with raw_charger(ws_url("/CP1/")) as cp:
        assert (await cp.call("h0", "Heartbeat", {}))[:2] == [4, "h0"]  # before boot: refused
        assert (await cp.boot())[0] == 3
        for n in range(3):
            assert (await cp.call(f"h{n + 1}", "Heartbeat", {}))[0] == 3
        assert (await cp.call("x", "NoSuchAction", {}))[2] == "NotImplemented"
        assert (await cp.call("b", "StatusNotification", {"connectorId": 1}))[0] == 4
        during = await scrape(http_url, auth_headers)
    assert during[received("Heartbeat")] == 3
    assert during[received("Heartbeat", "SecurityError")] == 1
    assert during[received("BootNotification")] == 1
    assert during[received("unknown", "NotImplemented")] == 1
    assert during[received("StatusNotification", "OccurenceConstraintViolation")] == 1
    assert during[("csms_ocpp_handling_seconds_count", (("action", "Heartbeat"),))] == 4
    assert during[("csms_connected_chargers", ())] == 1
    assert during[("csms_connections_opened_total", ())] == 1
    assert during[("csms_open_alerts", (("rule", "connector_faulted"),))] == 0
    assert during[("csms_open_transactions", ())] == 0
    assert any(name == "csms_write_batch_pending" for name, _ in during)
    assert ("csms_event_loop_lag_seconds", ()) in during


@pytest.mark.gen_test
async def test_refused_connections_transactions_and_energy(ws_url, http_url, auth_headers):
    with pytest.raises(InvalidStatus):  # HTTP 400 before the upgrade
        async with raw_charger(ws_url("/bad:id/")):
            pass
    async with raw_charger(ws_url("/CP1/")) as cp:
        assert (await cp.boot())[0] == 3
        begun = format_datetime(utcnow())
        start = {"connectorId": 1, "idTag": "T", "meterStart": 1000, "timestamp": begun}
        tx = (await cp.call("s", "StartTransaction", start))[2]["transactionId"]
        assert (await scrape(http_url, auth_headers))[("csms_open_transactions", ())] == 1
        stop = {"transactionId": tx, "meterStop": 1750, "timestamp": format_datetime(utcnow())}
        assert (await cp.call("e", "StopTransaction", stop))[0] == 3
    after = await scrape(http_url, auth_headers)
    assert after[("csms_connections_refused_total", (("reason", "bad_charger_id"),))] == 1
    assert after[("csms_energy_delivered_wh_total", ())] == 750
    assert after[("csms_open_transactions", ())] == 0


@pytest.mark.gen_test
async def test_metrics_need_credentials_on_the_main_port(http_url):
    response = await call(http_url, "/metrics")
    assert response.code == 401


@pytest.mark.gen_test
async def test_the_metrics_port_serves_them_open_on_loopback(services):
    port = free_port()
    registry = ConnectionRegistry(services.schemas, metrics=services.metrics)
    server = HTTPServer(make_metrics_app(services, registry))
    server.listen(port, "127.0.0.1")
    try:
        response = await AsyncHTTPClient().fetch(f"http://127.0.0.1:{port}/metrics")
    finally:
        server.stop()
    assert ("csms_connected_chargers", ()) in samples(response.body.decode())


COMMON_ACTIONS = ("BootNotification", "Heartbeat", "StatusNotification", "MeterValues",
                  "Authorize", "StartTransaction", "StopTransaction", "DataTransfer")  # fmt: skip


class FakeConnection:
    session = None

    def close(self, code=None, reason=None):
        pass


@pytest.mark.gen_test(timeout=60)
async def test_ten_thousand_chargers_make_fewer_than_200_series(services):
    registry = ConnectionRegistry(services.schemas, metrics=services.metrics)
    metrics = services.metrics
    for n in range(10_000):
        charger = f"CP{n:05d}"
        registry.register(charger, FakeConnection())
        for action in COMMON_ACTIONS:  # what a fleet sends, each through the same path
            metrics.call_answered(charger, action, "CALLRESULT", 0.001)
        metrics.call_answered(charger, "MeterValues", "OccurenceConstraintViolation", 0.001)
        registry.metrics.call_sent("RemoteStartTransaction", "CALLRESULT")
    await services.alerts.refresh_metrics(registry.ids())
    parsed = samples(metrics_text(metrics))
    assert parsed[("csms_connected_chargers", ())] == 10_000
    assert parsed[received("Heartbeat")] == 10_000
    assert len(parsed) < 200, len(parsed)
    assert metrics.series() == len(parsed)


def test_per_charger_series_only_when_asked_for():
    metrics = Metrics(per_charger=True)
    for n in range(50):
        metrics.call_answered(f"CP{n}", "Heartbeat", "CALLRESULT", 0.001)
    metrics.set_connected([f"CP{n}" for n in range(50)])
    parsed = samples(metrics_text(metrics))
    assert parsed[("csms_charger_messages_received_total", (("charger", "CP7"),))] == 1
    assert parsed[("csms_charger_connected", (("charger", "CP49"),))] == 1
    default = Metrics()
    default.call_answered("CP1", "Heartbeat", "CALLRESULT", 0.001)
    assert not any("charger" in dict(labels) for _, labels in samples(metrics_text(default)))


def test_two_metrics_objects_do_not_share_a_registry():
    one, two = Metrics(), Metrics()
    one.call_answered("CP1", "Heartbeat", "CALLRESULT", 0.001)
    assert samples(metrics_text(two)).get(received("Heartbeat")) is None


def metrics_text(metrics: Metrics) -> str:
    return generate_latest(metrics.registry).decode()
