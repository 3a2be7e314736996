"""connect(): the database chosen, and one clear DatabaseUnavailable line when it cannot be."""

from __future__ import annotations

import pytest

from models.db import DEFAULT_DB_NAME, DatabaseUnavailable, connect, redact
from models.embedded import free_port


def with_database(uri: str, name: str) -> str:
    """``uri`` naming database ``name`` (none when empty), options kept."""
    scheme, _, rest = uri.partition("://")
    rest, _, query = rest.partition("?")
    hosts = rest.split("/", 1)[0]
    return f"{scheme}://{hosts}/{name}" + (f"?{query}" if query else "")


def test_redact_hides_the_password_only():
    assert redact("mongodb://ops:s3cret@db.example:27017/csms") == (
        "mongodb://ops:***@db.example:27017/csms"
    )
    assert redact("mongodb://ops:p@ss@db.example/") == "mongodb://ops:***@db.example/"
    assert redact("mongodb://db.example:27017/csms") == "mongodb://db.example:27017/csms"
    assert redact("mongodb+srv://u:p@cluster.example") == "mongodb+srv://u:***@cluster.example"


@pytest.mark.gen_test
async def test_connect_uses_the_name_given_else_the_uri_s_else_csms(mongodb_uri):
    client, database = await connect(mongodb_uri, "given_name")
    try:
        assert database.name == "given_name"
        assert (await database.command("ping"))["ok"] == 1
    finally:
        await client.close()
    client, database = await connect(with_database(mongodb_uri, "from_uri"))
    await client.close()
    assert database.name == "from_uri"
    client, database = await connect(with_database(mongodb_uri, ""))
    await client.close()
    assert database.name == DEFAULT_DB_NAME


@pytest.mark.gen_test
async def test_an_invalid_uri_is_one_line_without_the_password():
    with pytest.raises(DatabaseUnavailable) as caught:
        await connect("http://ops:s3cret@localhost/")
    message = str(caught.value)
    assert message.startswith("invalid MongoDB URI http://ops:***@localhost/: ")
    assert "s3cret" not in message


@pytest.mark.gen_test(timeout=10)
async def test_an_unreachable_server_is_one_line_without_the_password():
    uri = f"mongodb://ops:s3cret@127.0.0.1:{free_port()}/?directConnection=true"
    with pytest.raises(DatabaseUnavailable) as caught:
        await connect(uri, timeout_ms=300)
    message = str(caught.value)
    assert message.startswith("cannot reach MongoDB at mongodb://ops:***@127.0.0.1:")
    assert "s3cret" not in message
    assert "configured timeouts" not in message and "\n" not in message
