"""create_user.py, create_token.py and migrate.py against the database of a data dir."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pymongo import MongoClient

from auth.passwords import verify_password
from models.embedded import EmbeddedDatabase

ROOT = Path(__file__).resolve().parent.parent.parent
SCRIPTS = ROOT / "scripts"
# Inherited, these would point the scripts elsewhere than the test means.
SCRIPT_ENV = ("MONGODB_URI", "CSMS_DATA_DIR", "CSMS_USER_PASSWORD")
NO_DATABASE = (
    "error: no database at {}: start the server once with this --data-dir, or pass --mongodb-uri"
)


def run(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None):
    """Run ``scripts/<args[0]>`` with this Python, stdin not a terminal."""
    clean = {k: v for k, v in os.environ.items() if k not in SCRIPT_ENV} | (env or {})
    return subprocess.run(
        [sys.executable, str(SCRIPTS / args[0]), *args[1:]], capture_output=True, text=True,
        timeout=60, cwd=cwd, stdin=subprocess.DEVNULL, env=clean,
    )  # fmt: skip


@pytest.fixture
def stopped_server_dir(tmp_path):
    """A data dir whose server has run once and stopped: its database is in <dir>/db."""
    data = tmp_path / "data"
    embedded = EmbeddedDatabase(data)
    embedded.start()
    embedded.stop()
    assert (data / "db").is_dir() and not (data / "mongodb.uri").exists()
    return data


@pytest.fixture
def running_server(tmp_path):
    """(data dir, URI) of an embedded database running as a server runs it: URI published."""
    data = tmp_path / "data"
    embedded = EmbeddedDatabase(data)
    uri = embedded.start()
    yield data, uri
    embedded.stop()


def test_create_user_then_token(stopped_server_dir):
    data = ["--data-dir", str(stopped_server_dir)]
    made = run("create_user.py", "ops", "--password", "long enough pw", *data)
    assert (made.returncode, made.stdout.strip()) == (0, "user 'ops' created (admin)")
    again = run("create_user.py", "ops", "--password", "long enough pw", *data)
    assert again.returncode == 1
    assert again.stderr.strip() == "error: user 'ops' exists (use --reset-password)"
    reset = run("create_user.py", "ops", "--password", "another pw!", "--reset-password",
                *data)  # fmt: skip
    assert reset.stdout.strip() == "password of 'ops' changed"
    token = run("create_token.py", "ops", "--label", "ci", *data)
    assert token.returncode == 0 and token.stdout.startswith("csms_")
    missing = run("create_token.py", "nobody", *data)
    assert (missing.returncode, missing.stderr.strip()) == (1, "error: no user named 'nobody'")
    second = run("create_user.py", "vic", "--password", "long enough pw", *data)
    assert second.stdout.strip() == "user 'vic' created (operator)"  # after the first: operator
    viewer = run("create_user.py", "val", "--password", "long enough pw", "--role", "viewer",
                 *data)  # fmt: skip
    assert viewer.stdout.strip() == "user 'val' created (viewer)"
    above = run("create_token.py", "val", "--role", "operator", *data)
    assert (above.returncode, above.stderr.strip()) == (
        1, "error: 'val' is viewer: a token cannot be operator",
    )  # fmt: skip
    capped = run("create_token.py", "vic", "--role", "viewer", "--expires-days", "7", *data)
    assert capped.returncode == 0, capped.stderr
    embedded = EmbeddedDatabase(stopped_server_dir)
    try:
        with MongoClient(embedded.start()) as client:
            users = {u["username"]: u["role"] for u in client.csms.users.find()}
            token = client.csms.api_tokens.find_one({"username": "vic"})
    finally:
        embedded.stop()
    assert users == {"ops": "admin", "vic": "operator", "val": "viewer"}
    assert token["role"] == "viewer"
    assert (token["expires"] - token["created"]).days == 7


def test_scripts_use_the_database_a_running_server_published(running_server):
    data, uri = running_server
    made = run("create_user.py", "ops", "--data-dir", str(data),
               env={"CSMS_USER_PASSWORD": "from the env"})  # fmt: skip
    assert (made.returncode, made.stdout, made.stderr) == (0, "user 'ops' created (admin)\n", "")
    token = run("create_token.py", "ops", "--label", "ci", "--data-dir", str(data))
    assert token.returncode == 0, token.stderr
    with MongoClient(uri) as client:
        user = client.csms.users.find_one({"username": "ops"})
        tokens = list(client.csms.api_tokens.find({}, {"_id": 0, "username": 1, "label": 1}))
    assert verify_password("from the env", user["password_hash"])
    assert tokens == [{"username": "ops", "label": "ci"}]


@pytest.mark.parametrize(
    "script",
    [
        ("create_user.py", "admin", "--password", "long enough pw"),
        ("create_user.py", "admin", "--password", "long enough pw", "--reset-password"),
        ("create_token.py", "admin"),
        ("migrate.py",),
        ("migrate.py", "--reset"),
    ],
)
def test_a_data_dir_without_a_database_is_refused_and_not_created(tmp_path, script):
    data = tmp_path / "nowhere"
    done = run(*script, "--data-dir", str(data))
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.splitlines() == [NO_DATABASE.format(data)]
    assert not data.exists()


def test_the_default_data_dir_is_named_absolute_and_not_created(tmp_path):
    done = run("create_token.py", "admin", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [NO_DATABASE.format(tmp_path / "data")]
    assert list(tmp_path.iterdir()) == []


def test_an_empty_data_dir_or_a_stale_uri_file_is_no_database(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    done = run("migrate.py", "--data-dir", str(empty))
    assert (done.returncode, done.stderr.splitlines()) == (2, [NO_DATABASE.format(empty)])
    assert list(empty.iterdir()) == []
    stale = tmp_path / "stale"  # a killed server left its URI file; nothing listens there
    stale.mkdir()
    (stale / "mongodb.uri").write_text("mongodb://127.0.0.1:1/?directConnection=true\n")
    done = run("create_user.py", "admin", "--password", "long enough pw", "--data-dir", str(stale))
    assert (done.returncode, done.stderr.splitlines()) == (2, [NO_DATABASE.format(stale)])
    assert [p.name for p in stale.iterdir()] == ["mongodb.uri"]


def test_migrate_runs_on_the_database_a_stopped_server_left(stopped_server_dir):
    done = run("migrate.py", "--data-dir", str(stopped_server_dir))
    assert (done.returncode, done.stderr) == (0, "")
    assert not (stopped_server_dir / "mongodb.uri").exists()  # a script publishes nothing


def test_short_password_is_refused_before_touching_the_database(tmp_path):
    short = run("create_user.py", "ops", "--password", "short", "--data-dir", str(tmp_path))
    assert short.returncode == 1
    assert short.stderr.strip() == "error: the password needs at least 8 characters"
    assert not (tmp_path / "db").exists()


def test_no_password_without_a_terminal_names_both_ways_to_give_one(stopped_server_dir):
    done = run("create_user.py", "ops", "--data-dir", str(stopped_server_dir))
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.splitlines() == [
        "error: no password: stdin is not a terminal, so give --password or set CSMS_USER_PASSWORD"
    ]
