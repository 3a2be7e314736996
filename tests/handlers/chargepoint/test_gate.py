"""The admission policy of charger connections (handlers.chargepoint.gate): ChargerGate.build
and the ``gate`` setting handlers read."""

from __future__ import annotations

import dataclasses

import pytest

from handlers.chargepoint.admission import ChargerAuth
from handlers.chargepoint.gate import ChargerGate, GateDependency
from handlers.chargepoint.limits import ConnectionCap, LimitSettings


class _Holder:
    """Something weakly referable that holds a connection slot."""


def test_build_without_limits_gives_the_safe_defaults():
    gate = ChargerGate.build()
    assert gate.limits == LimitSettings()
    assert isinstance(gate.auth, ChargerAuth) and isinstance(gate.cap, ConnectionCap)
    assert (gate.cap.limit, len(gate.cap), gate.cap.refused) == (10_000, 0, 0)
    failures = gate.auth.failures
    assert (failures.max_failures, failures.window, failures.max_ips) == (20, 60.0, 10_000)
    assert (gate.allow_unknown, gate.tls, gate.trust_proxy_headers) == (True, False, False)


def test_build_wires_the_limits_into_the_cap_and_the_login_limiter():
    limits = LimitSettings(max_connections=3, auth_failures=2, auth_failure_window=5.0,
                           auth_tracked_ips=7)  # fmt: skip
    gate = ChargerGate.build(limits, allow_unknown=False, tls=True, trust_proxy_headers=True)
    assert gate.limits is limits
    assert gate.cap.limit == 3
    failures = gate.auth.failures
    assert (failures.max_failures, failures.window, failures.max_ips) == (2, 5.0, 7)
    assert (gate.allow_unknown, gate.tls, gate.trust_proxy_headers) == (False, True, True)


def test_each_gate_has_its_own_cap_and_limiter():
    first, second = ChargerGate.build(), ChargerGate.build()
    assert first.cap is not second.cap and first.auth is not second.auth
    holder = _Holder()  # a connection stands in for itself
    assert first.cap.acquire(holder)
    assert (len(first.cap), len(second.cap)) == (1, 0)


def test_an_unknown_option_is_refused():
    with pytest.raises(TypeError):
        ChargerGate.build(allow_everything=True)


def test_a_gate_cannot_be_changed_once_built():
    gate = ChargerGate.build()
    with pytest.raises(dataclasses.FrozenInstanceError):
        gate.tls = True  # type: ignore[misc]


def test_gate_dependency_reads_the_gate_setting(app):
    class Reader(GateDependency):
        settings = app.settings

    assert Reader().gate is app.settings["gate"]
    assert isinstance(Reader().gate, ChargerGate)
    assert Reader().gate.allow_unknown is True  # the test app's default
