"""What GetConfiguration and ChangeConfiguration tell us of a charger (csms.configuration),
through csms.remote.perform against a charge point of the ``ocpp`` library.

The basic fill / merge / change cycle is test_remote.py's
``test_get_configuration_fills_ocpp_config``; these are the cases around it."""

from __future__ import annotations

from datetime import datetime

import pytest
from ocpp.exceptions import NotSupportedError

from csms.configuration import config_limit
from csms.remote import perform
from tests.csms.test_remote import booted, check


def key(name, value, readonly=False):
    return {"key": name, "readonly": readonly, "value": value}


async def get_configuration(services, registry, cp, reply, keys=None):
    cp.replies["GetConfiguration"] = reply
    params = {} if keys is None else {"key": keys}
    return await perform(services, registry, "CP1", "get_configuration", params)


async def ocpp_config(db):
    return (await db.chargers.find_one({"_id": "CP1"})).get("ocpp_config")


@pytest.mark.gen_test(timeout=20)
async def test_a_full_report_replaces_what_partial_ones_merged(ws_url, services, registry, db):
    async with booted(ws_url) as cp:
        partial = {"configurationKey": [key("A", "1")], "unknownKey": ["B"]}
        merged = await get_configuration(services, registry, cp, partial, "A, B")
        stored = await ocpp_config(db)
        assert stored["keys"] == [{"key": "A", "value": "1", "readonly": False}]
        assert (stored["unknown"], stored["command_id"]) == (["B"], merged.command_id)
        full = {"configurationKey": [key("C", "x", readonly=True)]}
        outcome = await get_configuration(services, registry, cp, full)
    await check(db, cp, outcome, "get_configuration", "GetConfiguration", {}, "accepted", full)
    stored = await ocpp_config(db)
    assert stored["keys"] == [{"key": "C", "value": "x", "readonly": True}]
    assert stored["unknown"] == []
    assert stored["command_id"] == outcome.command_id
    assert isinstance(stored["ts"], datetime)


@pytest.mark.gen_test(timeout=20)
async def test_a_key_moves_between_known_and_unknown(ws_url, services, registry, db):
    async with booted(ws_url) as cp:
        await get_configuration(services, registry, cp, {"configurationKey": [key("A", "1")]})
        await get_configuration(services, registry, cp, {"unknownKey": ["A"]}, "A")
        gone = await ocpp_config(db)
        await get_configuration(services, registry, cp, {"configurationKey": [key("A", "2")]}, "A")
    assert (gone["keys"], gone["unknown"]) == ([], ["A"])
    back = await ocpp_config(db)
    assert (back["keys"], back["unknown"]) == ([{"key": "A", "value": "2", "readonly": False}], [])


@pytest.mark.gen_test(timeout=20)
async def test_an_unanswered_get_configuration_keeps_what_was_stored(
    ws_url, services, registry, db
):
    async with booted(ws_url) as cp:
        first = await get_configuration(
            services, registry, cp, {"configurationKey": [key("A", "1")]}
        )
        before = await ocpp_config(db)
        failed = await get_configuration(services, registry, cp, NotSupportedError("no"))
    assert (failed.status, failed.error_code) == ("error", "NotSupported")
    assert before["command_id"] == first.command_id
    assert await ocpp_config(db) == before


@pytest.mark.gen_test(timeout=20)
async def test_an_accepted_change_of_a_key_reported_unknown_makes_it_known(
    ws_url, services, registry, db
):
    async with booted(ws_url) as cp:
        await get_configuration(
            services, registry, cp, {"unknownKey": ["Vendor.X", "Y"]}, "Vendor.X, Y"
        )
        changed = await perform(
            services, registry, "CP1", "change_configuration", {"key": "Vendor.X", "value": ""}
        )
    await check(db, cp, changed, "change_configuration", "ChangeConfiguration",
                {"key": "Vendor.X", "value": ""}, "accepted")  # fmt: skip
    stored = await ocpp_config(db)
    assert stored["keys"] == [{"key": "Vendor.X", "readonly": False, "value": ""}]
    assert stored["unknown"] == ["Y"]
    assert stored["command_id"] == changed.command_id


@pytest.mark.parametrize("reply", [{"status": "NotSupported"}, {"status": "Rejected"}])
@pytest.mark.gen_test(timeout=20)
async def test_a_refused_change_stores_nothing(ws_url, services, registry, db, reply):
    async with booted(ws_url) as cp:
        cp.replies["ChangeConfiguration"] = reply
        outcome = await perform(
            services, registry, "CP1", "change_configuration", {"key": "K", "value": "1"}
        )
    assert (outcome.status, outcome.description) == ("rejected", reply["status"])
    assert await ocpp_config(db) is None


@pytest.mark.parametrize(
    ("reported", "expected"),
    [({"value": "20"}, 20), ({"value": " 7 "}, 7), ({"value": "-1"}, -1),
     ({"value": "many"}, None), ({"value": ""}, None), ({"value": None}, None), ({}, None)],
)  # fmt: skip
def test_config_limit_reads_a_reported_integer(reported, expected):
    keys = {"LocalAuthListMaxLength": {"key": "LocalAuthListMaxLength", **reported}}
    assert config_limit(keys, "LocalAuthListMaxLength") == expected
    assert config_limit(keys, "SendLocalListMaxLength") is None
