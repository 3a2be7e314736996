"""UserRepo and TokenRepo: hashed passwords, unique names, tokens stored as digests."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

import models.users
from auth.passwords import DUMMY_HASH, token_digest, verify_password
from models.users import TokenRepo, UserExists, UserRepo

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.gen_test
async def test_create_stores_a_hash_and_refuses_a_taken_name(db):
    users = UserRepo(db)
    assert await users.count() == 0
    doc = await users.create("ops", "s3cret pass", is_admin=False)
    stored = await users.get("ops")
    assert stored == doc
    assert set(stored) == {
        "_id",
        "username",
        "password_hash",
        "is_admin",
        "session_version",
        "created",
    }
    assert (stored["username"], stored["is_admin"]) == ("ops", False)
    assert "s3cret" not in stored["password_hash"]
    assert verify_password("s3cret pass", stored["password_hash"])
    with pytest.raises(UserExists):
        await users.create("ops", "other")
    assert await users.count() == 1
    assert (await users.create("admin", "x"))["is_admin"] is True
    assert await users.count() == 2
    assert await users.get("nobody") is None


@pytest.mark.gen_test
async def test_authenticate_and_set_password(db):
    users = UserRepo(db)
    await users.create("ops", "first")
    assert (await users.authenticate("ops", "first"))["username"] == "ops"
    assert await users.authenticate("ops", "First") is None
    assert await users.authenticate("nobody", "first") is None
    assert await users.set_password("ops", "second") is True
    assert await users.authenticate("ops", "first") is None
    assert (await users.authenticate("ops", "second"))["username"] == "ops"
    assert await users.set_password("nobody", "x") is False


@pytest.mark.gen_test
async def test_an_unknown_user_costs_one_password_check_like_a_known_one(db, monkeypatch):
    users = UserRepo(db)
    await users.create("ops", "first")
    checked = []

    def recording(password, stored):
        checked.append((password, stored))
        return verify_password(password, stored)

    monkeypatch.setattr(models.users, "verify_password", recording)
    assert await users.authenticate("nobody", "guess") is None
    assert await users.authenticate("ops", "guess") is None
    assert checked[0] == ("guess", DUMMY_HASH)
    assert checked[1][0] == "guess" and checked[1][1].startswith("scrypt$16384$8$1$")
    assert len(checked) == 2
    assert await users.authenticate("nobody", "dummy-password-never-matches") is None


@pytest.mark.gen_test
async def test_a_password_change_and_end_sessions_raise_the_session_version(db):
    users = UserRepo(db)
    await users.create("ops", "first")
    assert (await users.get("ops"))["session_version"] == 0
    await users.set_password("ops", "second")
    assert (await users.get("ops"))["session_version"] == 1
    await users.end_sessions("ops")
    assert (await users.get("ops"))["session_version"] == 2


@pytest.mark.gen_test
async def test_a_broken_stored_hash_never_authenticates(db):
    users = UserRepo(db)
    await users.create("ops", "pw")
    await db.users.update_one({"username": "ops"}, {"$set": {"password_hash": "plain:pw"}})
    assert await users.authenticate("ops", "pw") is None


@pytest.mark.gen_test
async def test_tokens_are_stored_as_digests_and_looked_up_by_them(db):
    tokens = TokenRepo(db)
    token = await tokens.create("ops", "ci")
    other = await tokens.create("admin")
    assert token.startswith("csms_") and token != other
    stored = await db.api_tokens.find_one({"username": "ops"})
    assert stored["token_hash"] == token_digest(token)
    assert token not in str(stored)
    assert (stored["label"], stored["last_used"]) == ("ci", None)
    assert await tokens.lookup(token, NOW) == "ops"
    assert (await db.api_tokens.find_one({"username": "ops"}))["last_used"] == NOW
    assert await tokens.lookup(other) == "admin"
    assert (await db.api_tokens.find_one({"username": "admin"}))["last_used"] is not None
    assert await tokens.lookup(token + "x") is None
    assert await tokens.lookup("") is None


@pytest.mark.gen_test
async def test_token_list_hides_the_digest(db):
    tokens = TokenRepo(db)
    await tokens.create("ops", "a")
    await tokens.create("ops", "b")
    await tokens.create("admin", "c")
    assert sorted(doc["label"] for doc in await tokens.list()) == ["a", "b", "c"]
    listed = await tokens.list("ops")
    assert sorted(doc["label"] for doc in listed) == ["a", "b"]
    assert all(set(doc) == {"_id", "username", "label", "created", "last_used"} for doc in listed)
    assert await tokens.list("nobody") == []
