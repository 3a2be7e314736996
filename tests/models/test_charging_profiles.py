"""ChargingProfileRepo: the charger's replacement rules on install, ClearChargingProfile filters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from models.charging_profiles import ChargingProfileRepo

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
TX_DEFAULT = "TxDefaultProfile"
MAX = "ChargePointMaxProfile"


def profile(profile_id: int, stack_level: int = 0, purpose: str = TX_DEFAULT, **extra) -> dict:
    return {
        "chargingProfileId": profile_id, "stackLevel": stack_level,
        "chargingProfilePurpose": purpose, "chargingProfileKind": "Absolute",
        "chargingSchedule": {"chargingRateUnit": "A",
                             "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0}]},
        **extra,
    }  # fmt: skip


def installed(db_docs: list[dict]) -> list[tuple]:
    return [(d["connector"], d["profile_id"], d["stack_level"], d["purpose"]) for d in db_docs]


@pytest.mark.gen_test
async def test_install_stores_the_profile_document(db):
    repo = ChargingProfileRepo(db)
    sent = profile(7, 2, "TxProfile", transactionId=42)
    doc = await repo.install("CP1", 1, sent, NOW, command_id="cmd-7")
    expected = {"charger": "CP1", "connector": 1, "profile_id": 7, "stack_level": 2,
                "purpose": "TxProfile", "transaction_id": 42, "profile": sent, "ts": NOW,
                "command_id": "cmd-7"}  # fmt: skip
    assert doc == {"_id": doc["_id"], **expected}
    assert await repo.for_charger("CP1") == [doc]
    plain = await repo.install("CP1", 2, profile(8), NOW)
    assert (plain["transaction_id"], plain["command_id"]) == (None, None)


@pytest.mark.gen_test
async def test_install_replaces_the_same_id_on_any_connector(db):
    repo = ChargingProfileRepo(db)
    await repo.install("CP1", 1, profile(1, 0), NOW)
    await repo.install("CP1", 2, profile(1, 5, MAX), NOW + timedelta(seconds=1))
    assert installed(await repo.for_charger("CP1")) == [(2, 1, 5, MAX)]


@pytest.mark.gen_test
async def test_install_replaces_same_stack_level_and_purpose_on_the_same_connector_only(db):
    repo = ChargingProfileRepo(db)
    await repo.install("CP1", 1, profile(1, 0), NOW)
    await repo.install("CP1", 1, profile(2, 1), NOW)  # other stack level: kept
    await repo.install("CP1", 1, profile(3, 0, MAX), NOW)  # other purpose: kept
    await repo.install("CP1", 2, profile(4, 0), NOW)  # other connector: kept
    await repo.install("CP2", 1, profile(1, 0), NOW)  # other charger, even the same id: kept
    assert len(await repo.for_charger("CP1")) == 4
    await repo.install("CP1", 1, profile(9, 0), NOW)  # replaces 1 only
    assert sorted(installed(await repo.for_charger("CP1"))) == [
        (1, 2, 1, TX_DEFAULT), (1, 3, 0, MAX), (1, 9, 0, TX_DEFAULT), (2, 4, 0, TX_DEFAULT),
    ]  # fmt: skip
    assert installed(await repo.for_charger("CP2")) == [(1, 1, 0, TX_DEFAULT)]


@pytest.mark.gen_test
async def test_for_charger_sorts_by_connector_then_stack_level_and_filters_a_connector(db):
    repo = ChargingProfileRepo(db)
    for profile_id, connector, stack_level in ((1, 2, 0), (2, 0, 3), (3, 1, 2), (4, 1, 1)):
        await repo.install("CP1", connector, profile(profile_id, stack_level), NOW)
    assert [d["profile_id"] for d in await repo.for_charger("CP1")] == [2, 4, 3, 1]
    assert [d["profile_id"] for d in await repo.for_charger("CP1", connector=1)] == [4, 3]
    assert [d["profile_id"] for d in await repo.for_charger("CP1", connector=0)] == [2]
    assert await repo.for_charger("CP2") == []


async def three_connectors(repo: ChargingProfileRepo) -> None:
    await repo.install("CP1", 0, profile(1, 0, MAX), NOW)
    await repo.install("CP1", 1, profile(2, 0), NOW)
    await repo.install("CP1", 1, profile(3, 1), NOW)
    await repo.install("CP1", 2, profile(4, 1), NOW)
    await repo.install("CP2", 1, profile(2, 0), NOW)


@pytest.mark.gen_test
async def test_clear_by_id_ignores_the_other_fields(db):
    repo = ChargingProfileRepo(db)
    await three_connectors(repo)
    assert await repo.clear("CP1", profile_id=3, connector=2, purpose=MAX) == 1
    assert [d["profile_id"] for d in await repo.for_charger("CP1")] == [1, 2, 4]
    assert await repo.clear("CP1", profile_id=3) == 0
    assert len(await repo.for_charger("CP2")) == 1


@pytest.mark.gen_test
async def test_clear_by_whichever_criteria_are_given(db):
    repo = ChargingProfileRepo(db)
    await three_connectors(repo)
    assert await repo.clear("CP1", connector=1, stack_level=1) == 1  # profile 3
    assert await repo.clear("CP1", purpose=TX_DEFAULT, stack_level=5) == 0
    assert await repo.clear("CP1", purpose=TX_DEFAULT) == 2  # profiles 2 and 4
    assert [d["profile_id"] for d in await repo.for_charger("CP1")] == [1]
    assert await repo.clear("CP1", connector=0) == 1
    assert await repo.for_charger("CP1") == []
    assert len(await repo.for_charger("CP2")) == 1


@pytest.mark.gen_test
async def test_clear_without_criteria_removes_every_profile_of_the_charger(db):
    repo = ChargingProfileRepo(db)
    await three_connectors(repo)
    assert await repo.clear("CP1") == 4
    assert await repo.clear("CP1") == 0
    assert [d["charger"] for d in await db.charging_profiles.find({}).to_list()] == ["CP2"]
