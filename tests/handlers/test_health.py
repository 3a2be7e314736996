"""``GET /healthz`` (handlers.health): public liveness and the lag of the batched writes."""

from __future__ import annotations

import json

import pytest
from tornado.httpclient import AsyncHTTPClient


@pytest.mark.gen_test
async def test_health_is_public(http_url):
    response = await AsyncHTTPClient().fetch(http_url("/healthz"))
    body = json.loads(response.body)
    assert body["status"] == "ok" and body["flush_lag_ms"] >= 0


@pytest.mark.gen_test
async def test_an_idle_server_reports_no_lag_as_json(http_url):
    response = await AsyncHTTPClient().fetch(http_url("/healthz"))
    assert response.headers["Content-Type"].startswith("application/json")
    body = json.loads(response.body)
    assert body == {"status": "ok", "flush_lag_ms": 0.0, "flush_lag_max_ms": 0.0}


@pytest.mark.gen_test
async def test_the_worst_of_the_promised_writers_is_reported_in_milliseconds(http_url, services):
    services.meter_values.writer.last_lag = 0.0123
    services.messages.writer.last_lag = 0.05
    services.chargers.state.max_lag = 1.23456
    # The slow "observed" charger fields wait by design: their lag is not reported.
    services.chargers.observed.last_lag = services.chargers.observed.max_lag = 9.0
    body = json.loads((await AsyncHTTPClient().fetch(http_url("/healthz"))).body)
    assert (body["flush_lag_ms"], body["flush_lag_max_ms"]) == (50.0, 1234.6)
