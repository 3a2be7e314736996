"""How stored documents look in the JSON API and the CSV export (handlers.api.views).

The endpoints serving these views are tested in test_chargers.py and test_data.py."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from handlers.api import views

T0 = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
T1 = datetime(2026, 1, 1, 11, 0, 0, 123456, tzinfo=UTC)
STATUS = {
    "status": "Charging", "error_code": "NoError", "info": None, "vendor_id": "acme",
    "vendor_error_code": None, "ts": T0, "received": T0,
}  # fmt: skip
SESSION = {
    "_id": 7, "kind": "session", "charger": "CP1", "connector": 2, "id_tag": "TAG1",
    "start_ts": T0, "stop_ts": T1, "meter_start": 1000, "meter_stop": 3400, "energy_wh": 2400,
    "stop_reason": "Local", "open": False,
    "anomalies": [{"kind": "meter_backwards"}, "not a dict", {"kind": "register_jump"}],
}  # fmt: skip


def test_transaction_view():
    assert views.transaction_view(SESSION) == {
        "id": 7, "kind": "session", "charger": "CP1", "connector": 2, "id_tag": "TAG1",
        "start": T0, "stop": T1, "meter_start": 1000, "meter_stop": 3400, "energy_wh": 2400,
        "energy_claimed_wh": None, "stop_reason": "Local", "status": "closed",
        "anomalies": ["meter_backwards", "register_jump"], "cost": None,
    }  # fmt: skip
    capped = views.transaction_view({**SESSION, "energy_claimed_wh": 1e9})
    assert capped["energy_claimed_wh"] == 1e9  # the charger's claim, beside what is billed


def test_transaction_view_of_a_sparse_document():
    view = views.transaction_view({"_id": 1, "open": True, "anomalies": None})
    assert (view["kind"], view["status"], view["anomalies"]) == ("session", "open", [])
    assert view["charger"] is view["start"] is view["energy_wh"] is None
    assert views.transaction_view({"_id": 2, "kind": "orphan_stop"})["status"] == "closed"


@pytest.mark.parametrize(
    ("value", "cell"),
    [(None, ""), (T1, "2026-01-01T11:00:00.123Z"), (0, 0), (-5, -5), (2.5, 2.5),
     ("TAG1", "TAG1"), ("", ""), ("=1+2", "'=1+2"), ("+49", "'+49"), ("-5", "'-5"),
     ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"), ("\rx", "'\rx"), ("a=b", "a=b")],
)  # fmt: skip
def test_csv_cell(value, cell):
    assert views.csv_cell(value) == cell


def test_csv_row_follows_the_columns():
    row = views.csv_row({**SESSION, "id_tag": "=HYPERLINK()", "stop_ts": None})
    assert dict(zip(views.CSV_COLUMNS, row, strict=True)) == {
        "id": 7, "charger": "CP1", "connector": 2, "id_tag": "'=HYPERLINK()",
        "start": "2026-01-01T10:00:00.000Z", "stop": "", "meter_start": 1000,
        "meter_stop": 3400, "energy_wh": 2400, "stop_reason": "Local", "status": "closed",
        **dict.fromkeys(views.CSV_COLUMNS[11:], ""),
    }  # fmt: skip


def test_connector_states_are_sorted_by_number_and_skip_non_states():
    doc = {"connectors": {"10": STATUS, "2": STATUS, "0": STATUS, "aux": STATUS, "3": "junk",
                          1: STATUS}}  # fmt: skip
    assert [key for key, _ in views.connector_states(doc)] == ["0", "1", "2", "10", "aux"]
    assert views.connector_states({}) == views.connector_states({"connectors": None}) == []


def test_connector_view_keeps_only_the_status_fields():
    assert views.connector_view(STATUS, stale=True) == {
        "status": "Charging", "error_code": "NoError", "info": None, "vendor_id": "acme",
        "vendor_error_code": None, "ts": T0, "stale": True,
    }  # fmt: skip
    assert views.connector_view({})["stale"] is False


CHARGER = {
    "_id": "Bay/1 ä", "name": "Bay", "connectors": {"1": STATUS}, "last_heartbeat": T0,
    "last_seen": T1, "disconnected_at": T0, "last_meter_values": None,
    "boot": {"vendor": "V"}, "require_rfid": None, "latitude": 25.0, "longitude": -100.0,
}  # fmt: skip


def test_charger_view_of_a_connected_charger():
    view = views.charger_view(
        CHARGER, connected=True, open_transactions=[{**SESSION, "open": True}],
        public_url="https://csms.example/",
    )  # fmt: skip
    assert view["id"] == "Bay/1 ä" and view["connected"] is True
    assert view["offline_since"] is None
    assert view["connectors"] == {"1": views.connector_view(STATUS, stale=False)}
    assert [(tx["id"], tx["status"]) for tx in view["active_transactions"]] == [(7, "open")]
    assert view["require_rfid"] is False
    assert view["landing_page"] == "https://csms.example/ocpp/c/Bay%2F1%20%C3%A4/"
    assert view["log_page"] == "https://csms.example/ocpp/log/Bay%2F1%20%C3%A4/"
    assert (view["boot"], view["latitude"], view["longitude"]) == ({"vendor": "V"}, 25.0, -100.0)


def test_an_offline_chargers_connectors_are_stale_since_it_was_last_seen():
    view = views.charger_view(CHARGER, connected=False, open_transactions=[],
                              public_url="http://h")  # fmt: skip
    assert view["offline_since"] == T1
    assert view["connectors"]["1"]["stale"] is True
    assert view["landing_page"].startswith("http://h/ocpp/c/")
    assert views.offline_since({"disconnected_at": T0}) == T0
    assert views.offline_since({}) is None


def test_message_view():
    doc = {"ts": T0, "direction": "in", "action": "Heartbeat", "unique_id": "h1",
           "frame": '[2,"h1","Heartbeat",{}]', "charger": "CP1",
           "reply": {"ts": T1, "frame": '[3,"h1",{}]', "extra": 1}}  # fmt: skip
    assert views.message_view(doc) == {
        "ts": T0, "direction": "in", "action": "Heartbeat", "unique_id": "h1",
        "frame": '[2,"h1","Heartbeat",{}]', "reply": {"ts": T1, "frame": '[3,"h1",{}]'},
    }  # fmt: skip
    assert views.message_view({**doc, "reply": None})["reply"] is None


def test_meter_value_view_flattens_the_meta():
    doc = {"ts": T0, "value": 11000.0, "raw": "x",
           "meta": {"charger": "CP1", "connector": 2, "transaction": None,
                    "measurand": "Power.Active.Import", "phase": "L1", "unit": "W",
                    "context": "Sample.Periodic", "location": "Inlet"}}  # fmt: skip
    assert views.meter_value_view(doc) == {"ts": T0, **doc["meta"], "value": 11000.0,
                                           "raw": "x", "excluded": None}  # fmt: skip
    future = {**doc, "excluded": "future"}
    assert views.meter_value_view(future)["excluded"] == "future"  # told why it is not billed
    assert views.meter_value_view({})["charger"] is None


def test_tag_view_defaults():
    assert views.tag_view({"_id": "tag1"}) == {
        "id_tag": "tag1", "label": "", "status": "accepted", "expiry": None,
        "parent_id_tag": None, "max_active_transactions": 1, "tariff": None,
    }  # fmt: skip
    stored = {"_id": "tag1", "id_tag": "Tag1", "label": "L", "status": "blocked",
              "expiry": T0, "parent_id_tag": "P", "max_active_transactions": 3,
              "tariff": "FLEET"}  # fmt: skip
    assert views.tag_view(stored) == {key: stored[key] for key in stored if key != "_id"}
