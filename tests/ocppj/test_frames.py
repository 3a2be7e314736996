"""Parsing and packing OCPP-J frames."""

from __future__ import annotations

import json

import pytest

from ocppj import frames


def test_pack_round_trip():
    assert json.loads(frames.pack_call("1", "Heartbeat", {})) == [2, "1", "Heartbeat", {}]
    assert json.loads(frames.pack_result("1", {"a": 1})) == [3, "1", {"a": 1}]
    assert json.loads(frames.pack_error("1", "GenericError")) == [4, "1", "GenericError", "", {}]


def test_parse_each_kind():
    assert frames.parse('[2,"a","Heartbeat",{}]') == frames.Call("a", "Heartbeat", {})
    assert frames.parse('[3,"a",{"x":1}]') == frames.CallResult("a", {"x": 1})
    assert frames.parse('[4,"a","NotSupported","no",{}]') == frames.CallError(
        "a", "NotSupported", "no", {}
    )
    assert frames.parse('[9,"a"]') == frames.Unknown(9)


@pytest.mark.parametrize(
    ("text", "unique_id"),
    [("nope", "-1"), ("{}", "-1"), ("[]", "-1"), ('[2,"a","X"]', "a"), ('[3,"a",[]]', "a"),
     ('[4,"a","Code"]', "a")],
)  # fmt: skip
def test_parse_errors_carry_the_reply_id(text, unique_id):
    with pytest.raises(frames.FrameError) as info:
        frames.parse(text)
    assert info.value.code == "FormationViolation"
    assert info.value.unique_id == unique_id


def test_new_ids_fit_the_limit():
    assert len(frames.new_id()) == frames.MAX_ID_LENGTH
