"""The form parsers of the admin (handlers/forms.py), without a server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from handlers import forms
from handlers.forms import FieldError


def test_form_collects_values_errors_and_keeps_raw_text():
    form = forms.Form({"a": " 5 ", "b": "x"})
    assert form.field("a", forms.integer, 1) == 5
    assert form.field("b", forms.integer) is None
    form.field("c", forms.text, 10, required=True)
    form.error("a", "taken")
    assert form.values == {"a": 5}
    assert form.errors == {"b": "must be a whole number", "c": "required", "a": "taken"}
    assert form.raw == {"a": " 5 ", "b": "x"} and not form.ok


@pytest.mark.parametrize(
    ("typed", "error"),
    [("{", "invalid JSON: Expecting property name enclosed in double quotes at line 1, column 2"),
     ('{\n "a": 1,\n}', "invalid JSON: "),  # the wording differs between Pythons
     ('{\n "a": 1,\n}', "at line 3, column 1"),
     ("[]", "must be a JSON object ({...}), not list"),
     ('"text"', "must be a JSON object ({...}), not str"),
     ('{"a": Infinity}', "invalid JSON: Infinity is not allowed in JSON"),
     ('{"x": [{"$bad": 1}]}', 'key "$bad" at $.x[0] must not start with'),
     ('{"big": -9223372036854775809}', "the number at $.big does not fit in 64 bits"),
     ("[" * 2000 + "]" * 2000, "invalid JSON")],
)  # fmt: skip
def test_json_object_errors(typed, error):
    with pytest.raises(FieldError) as info:
        forms.json_object(typed)
    assert error in str(info.value)


def test_json_object_accepts_objects_and_empty_text():
    assert forms.json_object("  ") == {}
    assert forms.json_object('{"a": {"b": [1, 2.5, null, true]}, "ñ": "é"}') == {
        "a": {"b": [1, 2.5, None, True]}, "ñ": "é"
    }  # fmt: skip
    assert forms.json_object('{"max": 9223372036854775807}') == {"max": 2**63 - 1}
    with pytest.raises(FieldError, match="at most 65536 characters"):
        forms.json_object('{"a": "' + "x" * 70_000 + '"}')


def test_pretty_json_round_trips():
    value = {"a": [1, {"b": "é"}]}
    assert forms.json_object(forms.pretty_json(value)) == value
    assert forms.pretty_json(None) == "{}"


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("", None), (" 25.5 ", 25.5), ("-90", -90.0), ("90", 90.0), ("1e1", 10.0)],
)
def test_latitude(typed, expected):
    assert forms.latitude(typed) == expected


@pytest.mark.parametrize(
    ("typed", "error"),
    [("90.0001", "must be between -90 and 90"), ("nan", "must be a finite number"),
     ("-inf", "must be a finite number"), ("1,5", "must be a number")],
)  # fmt: skip
def test_latitude_errors(typed, error):
    with pytest.raises(FieldError, match=error):
        forms.latitude(typed)


def test_longitude_range():
    assert forms.longitude("-180") == -180.0 and forms.longitude("180") == 180.0
    with pytest.raises(FieldError, match="between -180 and 180"):
        forms.longitude("180.01")


@pytest.mark.parametrize(
    ("typed", "ok"),
    [("CP1", True), ("<script>", False), ("a b/é", False), ("CP-1_a.b~c", True),
     ("x" * 48, True), ("x" * 49, False),
     ("a:b", False), ("a\x7fb", False), ("a\nb", False), (" ", False), ("", False)],
)  # fmt: skip
def test_charger_id_rules_match_the_websocket(typed, ok):
    from urllib.parse import quote

    from handlers.chargepoint.websocket import charger_id_from_path

    accepted_by_socket = charger_id_from_path("/" + quote(typed, safe="") + "/")[0] == typed
    try:
        forms.charger_id(typed)
    except FieldError:
        accepted = False
    else:
        accepted = True
    assert accepted is ok is accepted_by_socket


def test_id_tag():
    assert forms.id_tag("  Card-1 ") == "Card-1"
    assert forms.optional_id_tag(" ") is None
    for bad in ("", "X" * 21, "a\tb"):
        with pytest.raises(FieldError):
            forms.id_tag(bad)


def test_checkbox():
    assert forms.checkbox("on") and forms.checkbox("yes") and forms.checkbox("1")
    assert not any(forms.checkbox(v) for v in ("", "0", "off", "false", "no"))


def test_choice_and_integers():
    assert forms.choice(" blocked ", forms.RFID_STATUSES) == "blocked"
    with pytest.raises(FieldError, match="must be one of accepted, blocked"):
        forms.choice("Accepted", forms.RFID_STATUSES)
    assert forms.optional_integer("", 0) is None and forms.optional_integer("3", 0) == 3
    with pytest.raises(FieldError, match="must be at most 10"):
        forms.integer("11", 1, 10)
    assert forms.page("") == 1 and forms.page("4") == 4
    with pytest.raises(FieldError):
        forms.page("0")


@pytest.mark.parametrize(
    ("typed", "end", "expected"),
    [("2024-03-01", False, datetime(2024, 3, 1, tzinfo=UTC)),
     ("2024-03-01", True, datetime(2024, 3, 2, tzinfo=UTC)),
     ("2024-03-01T10:15", True, datetime(2024, 3, 1, 10, 15, tzinfo=UTC)),
     ("2024-03-01T10:15:30", False, datetime(2024, 3, 1, 10, 15, 30, tzinfo=UTC)),
     ("2024-03-01T10:15:30Z", False, datetime(2024, 3, 1, 10, 15, 30, tzinfo=UTC)),
     ("2024-03-01T10:15:30+02:00", False, datetime(2024, 3, 1, 8, 15, 30, tzinfo=UTC)),
     ("", False, None)],
)  # fmt: skip
def test_moment(typed, end, expected):
    assert forms.moment(typed, end_of_day=end) == expected


@pytest.mark.parametrize("typed", ["tomorrow", "2024-13-01", "01/02/2024", "2024-03-01T25:00"])
def test_moment_errors(typed):
    with pytest.raises(FieldError, match="must be a date"):
        forms.moment(typed)


def test_datetime_local():
    assert forms.datetime_local(None) == ""
    assert forms.datetime_local(datetime(2030, 1, 2, 3, 4, tzinfo=UTC)) == "2030-01-02T03:04"
    plus2 = timezone(timedelta(hours=2))
    assert (
        forms.datetime_local(datetime(2030, 1, 2, 3, 4, 5, tzinfo=plus2)) == "2030-01-02T01:04:05"
    )
