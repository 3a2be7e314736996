"""Sessions (JSON and CSV) and meter values in the API."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

import handlers.api.data
from models.meter_values import measurements
from tests.handlers.api.support import assert_error, call, data

T0 = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
DAY = timedelta(days=1)

BAD_TIME = "must be an RFC 3339 date-time or a YYYY-MM-DD date before 9999-12-31"


def session(tx_id, charger, connector, start, *, stop=None, energy=None, tag="TAG", **extra):
    """A transactions document as csms/transactions.py stores it."""
    return {
        "_id": tx_id, "kind": "session", "charger": charger, "connector": connector,
        "id_tag": tag, "id_tag_key": tag.upper(), "start_ts": start, "meter_start": 1000,
        "open": stop is None, "stop_ts": stop,
        "meter_stop": None if stop is None else 1000 + energy,
        "stop_reason": None if stop is None else "Local", "energy_wh": energy, "anomalies": [],
        **extra,
    }  # fmt: skip


@pytest.fixture
def sessions(io_loop, db):
    """Four records: closed CP1#1, open CP1#2, closed CP2#3 and an orphan stop on CP2."""
    docs = [
        session(1, "CP1", 1, T0, stop=T0 + timedelta(hours=1), energy=1500, tag='a,"b"'),
        session(2, "CP1", 2, T0 + DAY),
        session(3, "CP2", 1, T0 + 2 * DAY, stop=T0 + 2 * DAY + timedelta(hours=2), energy=20,
                anomalies=[{"kind": "meter_backwards", "ts": T0}]),
        {"_id": 4, "kind": "orphan_stop", "charger": "CP2", "charger_tx_id": 99, "connector": None,
         "id_tag": None, "start_ts": None, "meter_start": None, "open": False,
         "stop_ts": T0 + 3 * DAY, "meter_stop": 5000, "stop_reason": "Local", "energy_wh": None,
         "anomalies": [{"kind": "unknown_transaction", "ts": T0}]},
    ]  # fmt: skip
    io_loop.run_sync(lambda: db.transactions.insert_many(docs))
    return docs


async def tx_ids(http_url, headers, query=""):
    body = data(await call(http_url, f"/ocpp/api/transactions/?{query}", headers=headers))
    return [item["id"] for item in body["items"]]


@pytest.mark.gen_test
async def test_sessions_newest_first_exactly(http_url, auth_headers, sessions):
    body = data(await call(http_url, "/ocpp/api/transactions/", headers=auth_headers))
    assert (body["total"], body["page"], body["per_page"]) == (4, 1, 50)
    assert [item["id"] for item in body["items"]] == [3, 2, 1, 4]
    assert body["items"][2] == {
        "id": 1, "kind": "session", "charger": "CP1", "connector": 1, "id_tag": 'a,"b"',
        "start": "2026-01-01T10:00:00.000Z", "stop": "2026-01-01T11:00:00.000Z",
        "meter_start": 1000, "meter_stop": 2500, "energy_wh": 1500, "energy_claimed_wh": None,
        "stop_reason": "Local",
        "status": "closed", "anomalies": [], "cost": None,
    }  # fmt: skip
    assert body["items"][1]["status"] == "open" and body["items"][1]["stop"] is None
    assert body["items"][0]["anomalies"] == ["meter_backwards"]
    assert body["items"][3]["kind"] == "orphan_stop"


@pytest.mark.parametrize(
    ("query", "expected"),
    [("charger=CP1", [2, 1]), ("charger=CP9", []), ("charger=", [3, 2, 1, 4]),
     ("from=2026-01-02", [3, 2]), ("to=2026-01-02", [2, 1]),
     ("to=2026-01-02T10:00:00Z", [1]), ("from=2026-01-02T11:00:00%2B01:00", [3, 2]),
     ("from=2026-01-02T11:00:00+01:00", [3, 2]),  # an unencoded "+" arrives as a space
     ("from=2026-01-01&to=2026-01-01&charger=CP1", [1])],
)  # fmt: skip
@pytest.mark.gen_test
async def test_session_filters(query, expected, http_url, auth_headers, sessions):
    assert await tx_ids(http_url, auth_headers, query) == expected


@pytest.mark.gen_test
async def test_session_pages(http_url, auth_headers, sessions):
    pages = []
    for page in (1, 2, 3):
        body = data(await call(http_url, f"/ocpp/api/transactions/?per_page=2&page={page}",
                               headers=auth_headers))  # fmt: skip
        assert (body["total"], body["page"], body["per_page"]) == (4, page, 2)
        pages.append([item["id"] for item in body["items"]])
    assert pages == [[3, 2], [1, 4], []]


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [("from=yesterday", "from", BAD_TIME),
     ("to=2026-02-30", "to", BAD_TIME),
     ("to=9999-12-31", "to", BAD_TIME),
     ("from=9999-12-31T23:00:00-05:00", "from",
      BAD_TIME),
     ("from=2026-01-01T10:00:00", "from", BAD_TIME),
     ("from=2026-01-03&to=2026-01-02", "to", "must be later than 'from'"),
     ("page=0", "page", "must be at least 1"), ("page=x", "page", "must be an integer"),
     ("per_page=501", "per_page", "must be at most 500")],
)  # fmt: skip
@pytest.mark.parametrize("path", ["/ocpp/api/transactions/", "/ocpp/api/transactions.csv"])
@pytest.mark.gen_test
async def test_bad_session_parameters_are_400(path, query, field, message, http_url,
                                              auth_headers):  # fmt: skip
    if path.endswith(".csv") and field in ("page", "per_page"):
        return  # the export is not paginated
    response = await call(http_url, f"{path}?{query}", headers=auth_headers)
    body = assert_error(response, 400, "invalid_parameter", field)
    assert body["detail"]["message"] == message


def parse_csv(response):
    assert response.code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == 'attachment; filename="transactions.csv"'
    return list(csv.reader(io.StringIO(response.body.decode())))


HEADER = ["id", "charger", "connector", "id_tag", "start", "stop", "meter_start", "meter_stop",
          "energy_wh", "stop_reason", "status", "cost_currency", "cost_energy", "cost_time",
          "cost_idle", "cost_fee", "cost_adjustment", "cost_tax", "cost_total", "tariff",
          "tariff_version"]  # fmt: skip
NO_COST = [""] * 10


@pytest.mark.gen_test
async def test_csv_export(http_url, auth_headers, sessions):
    rows = parse_csv(await call(http_url, "/ocpp/api/transactions.csv", headers=auth_headers))
    assert rows[0] == HEADER
    assert [row[0] for row in rows[1:]] == ["3", "2", "1", "4"]
    assert rows[3] == [
        "1",
        "CP1",
        "1",
        'a,"b"',
        "2026-01-01T10:00:00.000Z",
        "2026-01-01T11:00:00.000Z",
        "1000",
        "2500",
        "1500",
        "Local",
        "closed",
        *NO_COST,
    ]
    assert rows[2] == ["2", "CP1", "2", "TAG", "2026-01-02T10:00:00.000Z", "", "1000", "", "",
                       "", "open", *NO_COST]  # fmt: skip
    response = await call(http_url, "/ocpp/api/transactions.csv", headers=auth_headers)
    assert b'"a,""b"""' in response.body  # quoted as CSV, not mangled
    assert response.body.startswith(b"id,charger,connector,") and b"\r\n" in response.body


@pytest.mark.gen_test
async def test_csv_filters_and_empty_export(http_url, auth_headers, sessions):
    query = "charger=CP1&from=2026-01-02"
    rows = parse_csv(await call(http_url, f"/ocpp/api/transactions.csv?{query}",
                                headers=auth_headers))  # fmt: skip
    assert [row[0] for row in rows] == ["id", "2"]
    rows = parse_csv(await call(http_url, "/ocpp/api/transactions.csv?charger=none",
                                headers=auth_headers))  # fmt: skip
    assert rows == [HEADER]


@pytest.mark.gen_test
async def test_csv_is_streamed_in_chunks(http_url, auth_headers, db, monkeypatch):
    monkeypatch.setattr(handlers.api.data, "CSV_CHUNK", 3)
    await db.transactions.insert_many(
        [session(i, "CP1", i, T0 + i * timedelta(minutes=1)) for i in range(1, 11)]
    )
    chunks = []
    response = await call(http_url, "/ocpp/api/transactions.csv", headers=auth_headers,
                          streaming_callback=chunks.append)  # fmt: skip
    assert response.code == 200
    assert response.headers["Transfer-Encoding"] == "chunked"
    rows = list(csv.reader(io.StringIO(b"".join(chunks).decode())))
    assert [int(row[0]) for row in rows[1:]] == list(range(10, 0, -1))
    assert len(chunks) >= 4  # header + 3 rows, then 3, 3 and the last row


MEASURAND = "Energy.Active.Import.Register"


def sample(minute, charger="CP1", connector=1, transaction=1, measurand=MEASURAND, value=1.0):
    """A meter_values document."""
    return {
        "ts": T0 + timedelta(minutes=minute), "value": value,
        "meta": {"charger": charger, "connector": connector, "transaction": transaction,
                 "measurand": measurand, "phase": None, "unit": "Wh",
                 "context": "Sample.Periodic", "location": None},
    }  # fmt: skip


@pytest.fixture
def samples(io_loop, db):
    """CP1: tx 1 on connector 1 (energy at minutes 0-2, power at 1); CP1 connector 2 tx 2
    at minute 3; CP2 tx 3 at minute 4."""
    docs = [
        sample(0, value=100.0), sample(1, value=200.0), sample(2, value=300.0),
        sample(1, measurand="Power.Active.Import", value=7000.0),
        sample(3, connector=2, transaction=2), sample(4, charger="CP2", transaction=3),
    ]  # fmt: skip
    io_loop.run_sync(lambda: db.meter_values.insert_many(measurements(docs)))


async def mv(http_url, headers, query):
    response = await call(http_url, f"/ocpp/api/meter-values/?{query}", headers=headers)
    return data(response)


@pytest.mark.gen_test
async def test_meter_values_of_a_charger_exactly(http_url, auth_headers, samples):
    body = await mv(http_url, auth_headers, "charger=CP1&connector=1&measurand=" + MEASURAND)
    assert (body["total"], body["page"], body["per_page"]) == (3, 1, 50)
    assert [item["value"] for item in body["items"]] == [300.0, 200.0, 100.0]
    assert body["items"][0] == {
        "ts": "2026-01-01T10:02:00.000Z", "charger": "CP1", "connector": 1, "transaction": 1,
        "measurand": MEASURAND, "phase": None, "unit": "Wh", "context": "Sample.Periodic",
        "location": None, "value": 300.0, "raw": None, "excluded": None,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("query", "total"),
    [("charger=CP1", 5), ("charger=CP2", 1), ("transaction=1", 4), ("charger=CP1&connector=2", 1),
     ("transaction=1&measurand=Power.Active.Import", 1), ("charger=CP1&connector=0", 0),
     ("charger=CP1&from=2026-01-01T10:01:00Z&to=2026-01-01T10:03:00Z", 3),
     ("charger=CP1&transaction=3", 0), ("charger=CP1&to=2026-01-01", 5)],
)  # fmt: skip
@pytest.mark.gen_test
async def test_meter_value_filters(query, total, http_url, auth_headers, samples):
    body = await mv(http_url, auth_headers, query)
    assert body["total"] == total and len(body["items"]) == total


@pytest.mark.gen_test
async def test_meter_value_pages(http_url, auth_headers, samples):
    first = await mv(http_url, auth_headers, "charger=CP1&per_page=2")
    third = await mv(http_url, auth_headers, "charger=CP1&per_page=2&page=3")
    assert (first["total"], len(first["items"]), len(third["items"])) == (5, 2, 1)
    assert first["items"][0]["ts"] == "2026-01-01T10:03:00.000Z"


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [("", "charger", "give 'charger' or 'transaction' (or both)"),
     ("connector=1", "charger", "give 'charger' or 'transaction' (or both)"),
     ("charger=CP1&connector=one", "connector", "must be an integer"),
     ("transaction=-1", "transaction", "must be at least 0"),
     ("charger=CP1&from=1.1.2026", "from", BAD_TIME),
     ("charger=CP1&per_page=0", "per_page", "must be at least 1")],
)  # fmt: skip
@pytest.mark.gen_test
async def test_bad_meter_value_parameters_are_400(query, field, message, http_url, auth_headers):
    response = await call(http_url, f"/ocpp/api/meter-values/?{query}", headers=auth_headers)
    body = assert_error(response, 400, "invalid_parameter", field)
    assert body["detail"]["message"] == message


@pytest.mark.gen_test
async def test_csv_neutralises_a_formula_sent_by_a_charger(ws_url, http_url, auth_headers, db):
    """OWASP's CSV injection rule: a charger's idTag ``=1+2`` is written as text."""
    from tests.charge_points import raw_charger

    async with raw_charger(ws_url("/CP1/")) as cp:
        await cp.boot()
        start = {"connectorId": 1, "idTag": "=1+2", "meterStart": 0,
                 "timestamp": "2026-01-01T10:00:00Z"}  # fmt: skip
        assert (await cp.call("s", "StartTransaction", start))[2]["transactionId"] == 1
    response = await call(http_url, "/ocpp/api/transactions.csv", headers=auth_headers)
    rows = parse_csv(response)
    assert rows[1][3] == "'=1+2"
    assert b"\r\n1,CP1,1,'=1+2,2026-01-01T10:00:00.000Z," in response.body


@pytest.mark.gen_test
@pytest.mark.parametrize(
    ("text", "written"),
    [("+SUM(A1)", "'+SUM(A1)"), ("-2+3", "'-2+3"), ("@cmd", "'@cmd"), ("\tX", "'\tX"),
     ("\rX", "'\rX"), ("a=b", "a=b"), ("TAG-1", "TAG-1")],
)  # fmt: skip
async def test_csv_neutralises_every_formula_start(http_url, auth_headers, db, text, written):
    await db.transactions.insert_one(session(1, text, 1, T0, tag=text))
    rows = parse_csv(await call(http_url, "/ocpp/api/transactions.csv", headers=auth_headers))
    assert (rows[1][1], rows[1][3]) == (written, written)  # charger id and idTag alike
