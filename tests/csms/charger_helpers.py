"""Payloads and a booted raw charger shared by the transaction, authorization and
metering tests."""

from __future__ import annotations

from tests.charge_points import raw_charger


def start(ts="2026-01-01T10:00:00Z", meter=1000, tag="TAG1", connector=1):
    return {"connectorId": connector, "idTag": tag, "meterStart": meter, "timestamp": ts}


def stop(tx, meter, ts="2026-01-01T11:00:00Z", **extra):
    return {"transactionId": tx, "meterStop": meter, "timestamp": ts, **extra}


def reading(ts, value, unit="Wh", **extra):
    return {"timestamp": ts, "sampledValue": [{"value": value, "unit": unit, **extra}]}


async def require_rfid(db, charger_id="CP1"):
    await db.chargers.insert_one({"_id": charger_id, "require_rfid": True, "boot": None})


def booted_charger(ws_url):
    """Factory: a booted raw charger as an async context manager (the ``charger`` fixture
    of the modules that use it)."""

    class Booted:
        def __init__(self, path="/CP1/"):
            self.cm = raw_charger(ws_url(path))

        async def __aenter__(self):
            self.cp = await self.cm.__aenter__()
            assert (await self.cp.boot())[0] == 3
            return self.cp

        async def __aexit__(self, *exc):
            return await self.cm.__aexit__(*exc)

    return Booted
