"""The frame log file: every frame a line, written off the loop, rotated by size."""

from __future__ import annotations

import asyncio
import json
import logging
import stat

from csms.logfiles import FrameLog, start_logging


def test_frames_are_written_in_order_and_rotated(tmp_path):
    path = tmp_path / "frames.log"

    async def run():
        log = FrameLog(path, max_bytes=200, backups=2, interval=0.01)
        for n in range(12):
            log.write("CP1", "in", f'[2,"{n}","Heartbeat",{{}}]')
            await asyncio.sleep(0.02)
        log.close()

    asyncio.run(run())
    files = [path.with_name("frames.log.2"), path.with_name("frames.log.1"), path]
    lines = [line for f in files if f.exists() for line in f.read_text().splitlines()]
    assert len(lines) >= 6  # the oldest went with rotation; at most 2 backups are kept
    assert not path.with_name("frames.log.3").exists()
    records = [json.loads(line) for line in lines]
    numbers = [int(json.loads(record["frame"])[1]) for record in records]
    assert numbers == sorted(numbers) and numbers[-1] == 11
    assert records[-1]["frame"] == '[2,"11","Heartbeat",{}]'
    assert (records[-1]["charger"], records[-1]["dir"]) == ("CP1", "in")
    for f in files:
        if f.exists():
            assert stat.S_IMODE(f.stat().st_mode) == 0o600


def test_a_frame_with_newlines_stays_one_line(tmp_path):
    # The attack: a raw frame with a newline and a forged entry after it.
    path = tmp_path / "frames.log"
    forged = '[2,"1","Heartbeat",{}]\n2025-01-01 00:00:00,000 CP9 out [3,"1",{}]'

    async def run():
        log = FrameLog(path, interval=0.01)
        log.write("CP1", "in", forged)
        log.write("CP1", "in", "bad \ud800 surrogate")
        log.close()

    path.touch(mode=0o644)  # an existing file is narrowed too
    asyncio.run(run())
    lines = path.read_text().splitlines()
    assert len(lines) == 2
    record = json.loads(lines[0])
    assert record["frame"] == forged
    assert set(record) == {"ts", "charger", "dir", "frame"}
    assert record["ts"].endswith("Z") and len(record["ts"]) == 24
    assert json.loads(lines[1])["frame"] == "bad \ud800 surrogate"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_application_log_is_private(tmp_path):
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    listener = start_logging(tmp_path, max_bytes=1000)
    try:
        logging.getLogger("csms.test").info("hello")
    finally:
        listener.stop()
        root.handlers[:], root.level = handlers, level
    assert stat.S_IMODE((tmp_path / "csms.log").stat().st_mode) == 0o600


def test_frames_are_utf8_and_rotation_counts_bytes(tmp_path):
    path = tmp_path / "frames.log"
    text = '[2,"1","DataTransfer",{"vendorId":"' + "é" * 40 + '"}]'  # 40 characters, 80 bytes

    async def run():
        log = FrameLog(path, max_bytes=170, backups=1, interval=0.01)  # the line: 158 chars
        log.write("CP1", "in", text)
        await asyncio.sleep(0.05)
        log.write("CP1", "out", '[3,"1",{}]')
        log.close()

    asyncio.run(run())
    # The first line is over the bound in bytes (not in characters): rotated after it.
    first = path.with_name("frames.log.1").read_bytes()
    assert len(first.decode()) < 170 < len(first)
    assert json.loads(first)["frame"] == text
    assert json.loads(path.read_bytes())["frame"] == '[3,"1",{}]'
