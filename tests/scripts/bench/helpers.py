"""Running the benchmark's scripts in tests."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SCRIPTS = ROOT / "scripts"


def run_script(*args: str, timeout: float = 120, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """Run a script of scripts/ (a path relative to the repository) with this Python."""
    return subprocess.run(
        [sys.executable, str(ROOT / args[0]), *args[1:]], capture_output=True, text=True,
        timeout=timeout, cwd=cwd, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def assert_latencies_ordered(latency: dict) -> None:
    """p50 <= p90 <= p99 <= max, all positive."""
    assert set(latency) == {"p50", "p90", "p99", "max"}
    assert 0 < latency["p50"] <= latency["p90"] <= latency["p99"] <= latency["max"]
