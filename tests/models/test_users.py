"""UserRepo and TokenRepo: hashed passwords, unique names, roles, one-time set-password
links, the last enabled admin kept; tokens stored as digests, with a role, an expiry and
revocable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

import models.users
from auth.passwords import DUMMY_HASH, token_digest, verify_password
from models.users import (
    INVITE_HOURS,
    LastAdmin,
    TokenRepo,
    UserExists,
    UserRepo,
    token_role,
    user_role,
)

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.gen_test
async def test_create_stores_a_hash_and_refuses_a_taken_name(db):
    users = UserRepo(db)
    assert await users.count() == 0
    doc = await users.create("ops", "s3cret pass", role="operator")
    stored = await users.get("ops")
    assert stored == doc
    assert set(stored) == {
        "_id",
        "username",
        "password_hash",
        "role",
        "disabled",
        "session_version",
        "created",
        "last_login",
    }
    assert (stored["username"], stored["role"], stored["disabled"]) == ("ops", "operator", False)
    assert "s3cret" not in stored["password_hash"]
    assert verify_password("s3cret pass", stored["password_hash"])
    with pytest.raises(UserExists):
        await users.create("ops", "other")
    assert await users.count() == 1
    assert (await users.create("admin", "x"))["role"] == "admin"
    with pytest.raises(ValueError):
        await users.create("root", "x", role="root")
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
    assert (await tokens.lookup(token, NOW))["username"] == "ops"
    assert (await db.api_tokens.find_one({"username": "ops"}))["last_used"] == NOW
    assert (await tokens.lookup(other))["username"] == "admin"
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
    fields = {"_id", "username", "label", "role", "created", "expires", "last_used", "revoked"}
    assert all(set(doc) == fields for doc in listed)
    assert await tokens.list("nobody") == []


@pytest.mark.gen_test
async def test_a_disabled_user_or_one_without_a_password_never_authenticates(db):
    users = UserRepo(db)
    await users.create("a1", "password1")
    await users.create("ops", "password1", role="operator")
    await users.set_disabled("ops", True)
    assert await users.authenticate("ops", "password1") is None
    assert (await users.get("ops"))["session_version"] == 1  # its sessions ended
    await users.set_disabled("ops", False)
    assert (await users.authenticate("ops", "password1"))["username"] == "ops"
    await users.invite("new", "viewer")
    assert await users.authenticate("new", "") is None


@pytest.mark.gen_test
async def test_an_invite_link_works_once_and_within_its_hours(db):
    users = UserRepo(db)
    token = await users.invite("new", "viewer", by="a1", now=NOW)
    stored = await users.get("new")
    assert (stored["password_hash"], stored["role"], stored["invited_by"]) == (None, "viewer", "a1")
    assert stored["invite"] == {"token_hash": token_digest(token), "created": NOW,
                                "expires": NOW + timedelta(hours=INVITE_HOURS)}  # fmt: skip
    late = NOW + timedelta(hours=INVITE_HOURS)
    assert (await users.by_invite(token, NOW))["username"] == "new"
    assert await users.by_invite(token, late) is None
    assert await users.redeem(token, "chosen pw", late) is None
    assert await users.by_invite(token + "x", NOW) is None
    redeemed = await users.redeem(token, "chosen pw", NOW)
    assert "invite" not in redeemed and redeemed["session_version"] == 1
    assert redeemed["last_login"] == NOW
    assert (await users.authenticate("new", "chosen pw"))["username"] == "new"
    assert await users.redeem(token, "again pw", NOW) is None  # spent
    with pytest.raises(UserExists):
        await users.invite("new", "admin")


@pytest.mark.gen_test
async def test_a_reset_link_clears_the_password_and_ends_sessions(db):
    users = UserRepo(db)
    await users.create("ops", "password1", role="operator")
    token = await users.reset_link("ops", NOW)
    stored = await users.get("ops")
    assert (stored["password_hash"], stored["session_version"]) == (None, 1)
    assert await users.authenticate("ops", "password1") is None
    assert (await users.redeem(token, "password2", NOW))["username"] == "ops"
    assert await users.reset_link("nobody") is None
    await users.set_disabled("ops", True)
    token = await users.reset_link("ops", NOW)
    assert await users.by_invite(token, NOW) is None  # a disabled user cannot use a link
    assert await users.redeem(token, "password3", NOW) is None


@pytest.mark.gen_test
async def test_the_last_enabled_admin_is_neither_demoted_nor_disabled(db):
    users = UserRepo(db)
    await users.create("a1", "password1")
    with pytest.raises(LastAdmin):
        await users.set_role("a1", "operator")
    with pytest.raises(LastAdmin):
        await users.set_disabled("a1", True)
    await users.create("a2", "password1")
    await users.set_disabled("a2", True)  # a disabled admin does not count
    with pytest.raises(LastAdmin):
        await users.set_role("a1", "viewer")
    await users.set_disabled("a2", False)
    assert await users.set_role("a1", "viewer") is True
    assert user_role(await users.get("a1")) == "viewer"
    with pytest.raises(LastAdmin):
        await users.set_disabled("a2", True)
    assert await users.set_role("nobody", "viewer") is False
    assert await users.set_disabled("nobody", True) is False
    with pytest.raises(ValueError):
        await users.set_role("a1", "root")
    assert [u["username"] for u in await users.list()] == ["a1", "a2"]
    assert all("password_hash" not in u for u in await users.list())


@pytest.mark.gen_test
async def test_an_expired_or_revoked_token_is_not_found(db):
    tokens = TokenRepo(db)
    token = await tokens.create("ops", "ci", "viewer", expires=NOW + timedelta(days=1), now=NOW)
    assert (await tokens.lookup(token, NOW))["role"] == "viewer"
    assert await tokens.lookup(token, NOW + timedelta(days=1)) is None
    forever = await tokens.create("ops", "ci2", "operator", now=NOW)
    doc = await tokens.lookup(forever, NOW)
    assert "token_hash" not in doc and doc["expires"] is None
    assert await tokens.revoke(str(doc["_id"]), NOW) is True
    assert await tokens.revoke(str(doc["_id"]), NOW) is False
    assert await tokens.lookup(forever, NOW) is None
    assert (await tokens.get(str(doc["_id"])))["revoked"] == NOW
    assert await tokens.revoke("not-an-id") is False
    with pytest.raises(ValueError):
        await tokens.create("ops", role="root")


def test_a_token_can_do_at_most_what_its_owner_can_now():
    assert token_role({"role": "admin"}, {"role": "operator"}) == "operator"
    assert token_role({"role": "viewer"}, {"role": "admin"}) == "viewer"
    assert token_role({}, {"role": "operator"}) == "operator"  # tokens from before roles
    assert user_role({}) == "viewer"
