"""Checking query parameters and JSON body fields (handlers.api.params): every failure is an
ApiError 400 naming the field.

The endpoints' own messages for bad parameters are tested with the endpoints
(test_data.py, test_rfid.py, test_chargers.py); these call the parsers directly, with a
real Tornado request parsing the query string."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import tornado.web
from tornado.httputil import HTTPHeaders, HTTPServerRequest, RequestStartLine

from handlers.api import params
from handlers.base import ApiError


class _Connection:
    """The one thing a RequestHandler asks of its connection when it is built."""

    def set_close_callback(self, callback) -> None:
        pass


def handler(query: str) -> tornado.web.RequestHandler:
    """A request handler for ``GET /?query`` (the query as a client sent it)."""
    request = HTTPServerRequest(
        start_line=RequestStartLine("GET", f"/?{query}", "HTTP/1.1"),
        headers=HTTPHeaders({"Host": "test"}),
        connection=_Connection(),
    )
    return tornado.web.RequestHandler(tornado.web.Application(), request)


def refused(call, *args, **kwargs) -> ApiError:
    with pytest.raises(ApiError) as info:
        call(*args, **kwargs)
    assert info.value.status_code == 400
    return info.value


def test_invalid_parameter_and_invalid_field_name_the_culprit():
    query, body = params.invalid_parameter("from", "bad"), params.invalid_field("label", "bad")
    assert (query.status_code, query.error, query.detail) == (
        400, "invalid_parameter", {"field": "from", "message": "bad"},
    )  # fmt: skip
    assert (body.status_code, body.error, body.detail) == (
        400, "invalid_field", {"field": "label", "message": "bad"},
    )  # fmt: skip


def test_query_text():
    assert params.query_text(handler("q=abc"), "q") == "abc"
    assert params.query_text(handler("q="), "q") is None
    assert params.query_text(handler(""), "q") is None
    assert params.query_text(handler("q=" + "x" * 5), "q", max_length=5) == "xxxxx"
    error = refused(params.query_text, handler("q=" + "x" * 6), "q", max_length=5)
    assert error.detail == {"field": "q", "message": "at most 5 characters"}


@pytest.mark.parametrize(
    ("query", "expected"),
    [("n=7", 7), ("n=%2B7", 7), ("n=-3", -3), ("n=007", 7), ("n=", 42), ("", 42)],
)
def test_query_int_reads_integers_or_the_default(query, expected):
    assert params.query_int(handler(query), "n", minimum=-5, default=42) == expected


@pytest.mark.parametrize(
    ("query", "message"),
    [("n=1.5", "must be an integer"), ("n=1e3", "must be an integer"),
     ("n=" + "9" * 19, "must be an integer"), ("n=1_0", "must be an integer"),
     ("n=0", "must be at least 1"), ("n=11", "must be at most 10")],
)  # fmt: skip
def test_query_int_refusals(query, message):
    error = refused(params.query_int, handler(query), "n", minimum=1, maximum=10)
    assert (error.error, error.detail) == ("invalid_parameter", {"field": "n", "message": message})


@pytest.mark.parametrize(
    ("text", "end", "expected"),
    [
        ("2026-01-02", False, datetime(2026, 1, 2, tzinfo=UTC)),
        ("2026-01-02", True, datetime(2026, 1, 3, tzinfo=UTC)),  # the whole day is included
        ("2026-12-31", True, datetime(2027, 1, 1, tzinfo=UTC)),
        ("2026-01-02T10:00:00+02:00", True, datetime(2026, 1, 2, 8, tzinfo=UTC)),
        ("2026-01-02T10:00:00 02:00", False, datetime(2026, 1, 2, 8, tzinfo=UTC)),  # a bare "+"
        (" 2026-01-02T10:00:00Z ", False, datetime(2026, 1, 2, 10, tzinfo=UTC)),
        ("2026-02-30", False, None),
        ("2026-1-2", False, None),
        ("2026-01-02T10:00:00", False, None),  # no offset
        ("yesterday", False, None),
        ("9999-12-31", True, None),  # the day after overflows
        ("9999-12-31", False, datetime(9999, 12, 31, tzinfo=UTC)),
        ("9999-12-31T23:00:00-05:00", False, None),
        ("0001-01-01T00:00:00+01:00", False, None),
    ],
)
def test_parse_time_bound(text, end, expected):
    assert params.parse_time_bound(text, end=end) == expected


def test_a_time_range_from_an_unencoded_plus_sign():
    low, high = params.query_time_range(handler("from=2026-01-01T10:00:00+02:00&to=2026-01-01"))
    assert (low, high) == (datetime(2026, 1, 1, 8, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC))
    assert params.query_time_range(handler("from=&to=")) == (None, None)
    assert params.query_time_range(handler("since=2026-01-01"), start="since", end="until") == (
        datetime(2026, 1, 1, tzinfo=UTC), None,
    )  # fmt: skip


def test_an_empty_time_range_is_refused_naming_its_end():
    error = refused(params.query_time_range, handler("from=2026-01-01T00:00:00Z&to=2025-12-31"))
    assert error.detail == {"field": "to", "message": "must be later than 'from'"}
    same = "from=2026-01-01T00:00:00Z&to=2026-01-01T00:00:00Z"
    assert refused(params.query_time_range, handler(same)).detail["field"] == "to"


def test_a_bad_bound_is_refused_naming_it():
    error = refused(params.query_time_range, handler("since=soon"), start="since")
    assert error.detail == {
        "field": "since",
        "message": "must be an RFC 3339 date-time or a YYYY-MM-DD date before 9999-12-31",
    }  # fmt: skip


def test_query_page_defaults_and_bounds():
    assert params.query_page(handler("")) == (1, params.DEFAULT_PER_PAGE) == (1, 50)
    assert params.query_page(handler("page=3&per_page=500")) == (3, 500)
    assert refused(params.query_page, handler("per_page=0")).detail["field"] == "per_page"


def test_page_of_is_the_envelope():
    assert params.page_of(["a"], 11, 2, 10) == {
        "total": 11, "page": 2, "per_page": 10, "items": ["a"],
    }  # fmt: skip


def test_body_string():
    assert params.body_string({"label": "Bay 1"}, "label", max_length=10) == "Bay 1"
    assert params.body_string({}, "label", max_length=10) is None
    assert params.body_string({"label": None}, "label", max_length=10, nullable=True) is None
    assert params.body_string({"label": ""}, "label", max_length=10, nullable=True) is None
    assert params.body_string({"label": ""}, "label", max_length=10) == ""


@pytest.mark.parametrize(
    ("body", "options", "message"),
    [({}, {"required": True}, "is required"),
     ({"label": None}, {"nullable": True, "required": True}, "is required"),
     ({"label": None}, {}, "must be a string"),
     ({"label": 5}, {"nullable": True}, "must be a string or null"),
     ({"label": "x" * 11}, {}, "at most 10 characters"),
     ({"label": "a\x7fb"}, {}, "must not contain control characters"),
     ({"label": "tab\there"}, {}, "must not contain control characters")],
)  # fmt: skip
def test_body_string_refusals(body, options, message):
    error = refused(params.body_string, body, "label", max_length=10, **options)
    assert (error.error, error.detail) == ("invalid_field", {"field": "label", "message": message})


def test_body_datetime():
    assert params.body_datetime({}, "expiry") is None
    assert params.body_datetime({"expiry": None}, "expiry") is None
    assert params.body_datetime({"expiry": "2026-01-01T01:00:00+01:00"}, "expiry") == datetime(
        2026, 1, 1, tzinfo=UTC
    )
    for bad in ("2026-01-01", 1767225600, ""):
        error = refused(params.body_datetime, {"expiry": bad}, "expiry")
        assert error.detail["field"] == "expiry"


@pytest.mark.parametrize(
    ("value", "message"),
    [(True, "must be an integer"), (1.0, "must be an integer"), ("3", "must be an integer"),
     (None, "must be an integer"), (0, "must be between 1 and 5"), (6, "must be between 1 and 5")],
)  # fmt: skip
def test_body_int_refusals(value, message):
    error = refused(params.body_int, {"n": value}, "n", minimum=1, maximum=5)
    assert error.detail == {"field": "n", "message": message}


def test_body_int_in_bounds_or_absent():
    assert params.body_int({"n": 5}, "n", minimum=1, maximum=5) == 5
    assert params.body_int({}, "n", minimum=1, maximum=5) is None


def test_refuse_unknown_names_the_first_unknown_field():
    params.refuse_unknown({"label": 1}, {"label", "status"})
    error = refused(params.refuse_unknown, {"label": 1, "colour": 2, "size": 3}, {"label"})
    assert error.detail == {"field": "colour", "message": "unknown field"}
