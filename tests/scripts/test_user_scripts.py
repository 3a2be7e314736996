"""create_user.py and create_token.py against an embedded database on a data dir."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=60, cwd=ROOT,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip


def test_create_user_then_token(tmp_path):
    data = ["--data-dir", str(tmp_path)]
    made = run("scripts/create_user.py", "ops", "--password", "long enough pw", *data)
    assert (made.returncode, made.stdout.strip()) == (0, "user 'ops' created")
    again = run("scripts/create_user.py", "ops", "--password", "long enough pw", *data)
    assert again.returncode == 1
    assert again.stderr.strip() == "error: user 'ops' exists (use --reset-password)"
    reset = run("scripts/create_user.py", "ops", "--password", "another pw!", "--reset-password",
                *data)  # fmt: skip
    assert reset.stdout.strip() == "password of 'ops' changed"
    token = run("scripts/create_token.py", "ops", "--label", "ci", *data)
    assert token.returncode == 0 and token.stdout.startswith("csms_")
    missing = run("scripts/create_token.py", "nobody", *data)
    assert (missing.returncode, missing.stderr.strip()) == (1, "error: no user named 'nobody'")


def test_short_password_is_refused_before_touching_the_database(tmp_path):
    short = run("scripts/create_user.py", "ops", "--password", "short", "--data-dir", str(tmp_path))
    assert short.returncode == 1
    assert short.stderr.strip() == "error: the password needs at least 8 characters"
    assert not (tmp_path / "db").exists()
