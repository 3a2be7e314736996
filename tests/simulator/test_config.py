"""SimulatorConfig: defaults, URL, validation."""

from __future__ import annotations

import pytest

from simulator import ConfigError, SimulatorConfig
from simulator.runner import charger_ids


def test_defaults_and_url():
    config = SimulatorConfig()
    assert (config.host, config.ws_port, config.cp_path) == ("127.0.0.1", 8000, "SIM1/")
    assert (config.interval, config.duration, config.kwh_min, config.kwh_max) == (
        5.0,
        60.0,
        1.0,
        2.0,
    )
    assert (config.rfid, config.repeat, config.connectors, config.tls) == (None, False, 1, False)
    assert (config.username, config.password, config.pre_charge_delay) == (None, None, 0.0)
    assert config.url == "ws://127.0.0.1:8000/SIM1/"
    assert config.charger_id == "SIM1"
    assert config.basic_auth_user is None


@pytest.mark.parametrize(
    ("fields", "url", "charger_id"),
    [
        ({"cp_path": "/site/a/CP%201/"}, "ws://127.0.0.1:8000/site/a/CP%201/", "CP 1"),
        ({"cp_path": "CP2", "tls": True, "ws_port": 443}, "wss://127.0.0.1:443/CP2", "CP2"),
        ({"host": "::1", "cp_path": "CP3/"}, "ws://[::1]:8000/CP3/", "CP3"),
    ],
)
def test_url_and_charger_id(fields, url, charger_id):
    config = SimulatorConfig(**fields)
    assert (config.url, config.charger_id) == (url, charger_id)


def test_basic_auth_user_defaults_to_the_charger_id():
    assert SimulatorConfig(cp_path="CP9/", password="secret").basic_auth_user == "CP9"
    assert SimulatorConfig(password="secret", username="u").basic_auth_user == "u"
    assert SimulatorConfig(password="secret").as_dict()["password"] == "***"


def test_from_url():
    config = SimulatorConfig.from_url("wss://example.test/ocpp", "SIM 7", interval=1)
    assert (config.host, config.ws_port, config.tls) == ("example.test", 443, True)
    assert (config.cp_path, config.charger_id, config.interval) == ("ocpp/SIM%207/", "SIM 7", 1)
    config = SimulatorConfig.from_url("ws://127.0.0.1:8000/CP5")
    assert (config.ws_port, config.cp_path, config.url) == (8000, "CP5", "ws://127.0.0.1:8000/CP5")
    with pytest.raises(ConfigError, match="cp_path must end with the charger id"):
        SimulatorConfig.from_url("ws://127.0.0.1:8000/")
    config = SimulatorConfig.from_url("ws://127.0.0.1:9000/", "A1")
    assert config.url == "ws://127.0.0.1:9000/A1/"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://127.0.0.1:8000/", "URL 'http://127.0.0.1:8000/' must start with ws:// or wss://"),
        ("ws:///x", "URL 'ws:///x' has no host"),
        ("ws://h:99999/", "bad URL 'ws://h:99999/': Port out of range 0-65535"),
    ],
)
def test_from_url_refuses_bad_urls(url, message):
    with pytest.raises(ConfigError) as raised:
        SimulatorConfig.from_url(url, "X")
    assert str(raised.value) == message


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"cp_path": ""}, "cp_path must end with the charger id"),
        ({"cp_path": "a:b/"}, "charger id 'a:b': at most 48 characters, no ':'"),
        ({"cp_path": "x" * 49}, f"charger id '{'x' * 49}': at most 48 characters, no ':'"),
        ({"host": ""}, "host '' is not a host name or address"),
        ({"rfid": "x" * 21}, "rfid must be 1 to 20 characters"),
        ({"duration": 0}, "duration must be greater than 0"),
        ({"kwh_min": -1}, "need 0 <= kwh_min <= kwh_max"),
        ({"connectors": 0}, "connectors must be at least 1"),
        ({"pre_charge_delay": -1}, "pre_charge_delay must not be negative"),
        ({"password": ""}, "password must not be empty"),
        ({"reconnect_min": 0}, "need 0 < reconnect_min <= reconnect_max"),
        ({"reconnect_min": 5, "reconnect_max": 2}, "need 0 < reconnect_min <= reconnect_max"),
    ],
)
def test_validation(fields, message):
    with pytest.raises(ConfigError) as raised:
        SimulatorConfig(**fields)
    assert str(raised.value) == message
    assert isinstance(raised.value, ValueError)


def test_kwh_max_alone_takes_kwh_min_down_with_it():
    config = SimulatorConfig(kwh_max=0.5)
    assert (config.kwh_min, config.kwh_max) == (0.5, 0.5)
    assert SimulatorConfig(kwh_max=5).kwh_min == 1.0  # the default, when it fits
    assert SimulatorConfig(kwh_max=0).kwh_min == 0
    assert SimulatorConfig.from_url("ws://127.0.0.1:8000/", "K1", kwh_max=0.3).kwh_min == 0.3
    # A kwh_min that was left out still follows kwh_max in a copy; a given one stays.
    assert SimulatorConfig().replace(kwh_max=0.25).kwh_min == 0.25
    assert SimulatorConfig(kwh_max=0.5).replace(kwh_max=4).kwh_min == 1.0
    assert SimulatorConfig(kwh_min=0.2).replace(kwh_max=0.5).kwh_min == 0.2
    assert SimulatorConfig(kwh_max=0.5).as_dict()["kwh_min"] == 0.5
    assert "_kwh_min_follows" not in SimulatorConfig().as_dict()
    assert SimulatorConfig(kwh_max=0.5) == SimulatorConfig(kwh_min=0.5, kwh_max=0.5)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: SimulatorConfig(kwh_min=1.0, kwh_max=0.5), "need 0 <= kwh_min <= kwh_max"),
        (lambda: SimulatorConfig(kwh_min=0.8).replace(kwh_max=0.5),
         "need 0 <= kwh_min <= kwh_max"),
        (lambda: SimulatorConfig(kwh_max=-1), "need 0 <= kwh_min <= kwh_max"),
    ],
)  # fmt: skip
def test_an_explicit_kwh_min_above_kwh_max_is_still_refused(make, message):
    with pytest.raises(ConfigError) as raised:
        make()
    assert str(raised.value) == message


def test_fields_set_one_by_one_are_judged_like_given_ones():
    # How the admin checks a form: a default configuration, fields set without checks.
    probe = SimulatorConfig()
    probe.kwh_min, probe.kwh_max = 0.2, 0.5
    assert probe.problems() == []
    probe.kwh_min = None  # left out: follows kwh_max
    assert probe.problems() == []
    probe.kwh_min = 0.8
    assert probe.problems() == ["need 0 <= kwh_min <= kwh_max"]


def test_replace_validates_again():
    config = SimulatorConfig()
    assert config.replace(interval=2).interval == 2
    with pytest.raises(ConfigError):
        config.replace(interval=-1)


def test_charger_ids_are_padded():
    assert charger_ids("SIM", 3) == ["SIM1", "SIM2", "SIM3"]
    assert charger_ids("CP-", 12)[:2] == ["CP-01", "CP-02"]
    assert charger_ids("CP-", 12)[-1] == "CP-12"


def test_invalid_configuration_is_refused_at_once():
    with pytest.raises(ConfigError) as raised:
        SimulatorConfig(cp_path="/", interval=0, kwh_min=5, kwh_max=1, ws_port=70000)
    assert str(raised.value) == (
        "ws_port 70000 is not a port number (1-65535); cp_path must end with the charger id; "
        "interval must be greater than 0; need 0 <= kwh_min <= kwh_max"
    )
