"""The frame log file: every frame a line, written off the loop, rotated by size."""

from __future__ import annotations

import asyncio

from csms.logfiles import FrameLog


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
    numbers = [int(line.split('"')[1]) for line in lines]
    assert numbers == sorted(numbers) and numbers[-1] == 11
    assert lines[-1].endswith('CP1 in [2,"11","Heartbeat",{}]')
