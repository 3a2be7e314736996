"""Run many simulated charge points against a Central System.

    python scripts/simulate.py --url ws://127.0.0.1:8000/ --count 50 --prefix SIM \\
        --interval 5 --kwh-max 10 [--repeat] [--rfid TAG]

Charger ids are the prefix and a number (SIM01..SIM50). A progress line
shows sessions, kWh and errors: on a terminal it is rewritten in place every
second, otherwise (a log, a pipe) a new line is printed every 10 seconds;
--progress sets the interval. Ctrl-C (or SIGTERM) stops every simulator,
each ending its session with a StopTransaction, and exits 0. Without
--repeat the command ends when every simulator has done its session: exit 0,
or 1 when a simulator ended in error. Bad arguments: one line on stderr, exit 2.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from typing import NoReturn, TextIO

from simulator import ConfigError, SimulatorFleet

EXIT_OK = 0
EXIT_ERRORS = 1
EXIT_USAGE = 2

# Seconds between progress lines without --progress.
TTY_PROGRESS = 1.0  # the line is rewritten in place
LOG_PROGRESS = 10.0  # every line stays: fewer of them


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are a single line on stderr."""

    def error(self, message: str) -> NoReturn:
        """Print ``prog: error: message`` and exit 2."""
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> OneLineParser:
    """The command-line options."""
    parser = OneLineParser(prog="simulate.py", description="Run simulated OCPP 1.6J charge points.")
    add = parser.add_argument
    add("--url", default="ws://127.0.0.1:8000/", help="Central System WebSocket URL (ws/wss)")
    add("--count", type=int, default=1, help="number of simulated charge points")
    add(
        "--prefix",
        default="SIM",
        help="charger id prefix: ids are PREFIX and a number as wide as --count"
        " (--count 1: SIM1; --count 20: SIM01..SIM20; --count 1000: SIM0001..)",
    )
    add("--interval", type=float, default=5.0, help="seconds between MeterValues")
    add("--kwh-max", type=float, default=2.0, help="energy of a session (upper bound), kWh")
    add("--kwh-min", type=float, default=None, help="lower bound (default: --kwh-max)")
    add("--duration", type=float, default=60.0, help="seconds a session lasts")
    add("--pre-charge-delay", type=float, default=0.0, help="seconds before StartTransaction")
    add("--repeat", action="store_true", help="run sessions until stopped")
    add("--rfid", default=None, help="idTag to Authorize and start with")
    add("--connectors", type=int, default=1, help="connectors per charge point")
    add("--password", default=None, help="HTTP Basic password (username: the charger id)")
    add("--cafile", default=None, help="CA bundle to verify a wss:// server")
    add("--certificate-dir", default=None,
        help="security profile 3: keep each charger's key and signed certificate in"
        " DIR/<charger id>/ and present it as the TLS client certificate")  # fmt: skip
    add("--ramp", type=float, default=0.0, help="seconds between starting two simulators")
    progress_help = (
        "seconds between progress lines"
        f" (default: {TTY_PROGRESS:g} on a terminal, {LOG_PROGRESS:g} otherwise)"
    )
    add("--progress", type=float, default=None, help=progress_help)
    add("--stop-timeout", type=float, default=10.0, help="seconds to wait for a clean stop")
    add("--seed", type=int, default=None, help="random seed (reproducible session energies)")
    add("--log-level", default="ERROR", help="logging level (DEBUG, INFO, WARNING, ERROR)")
    return parser


def make_fleet(args: argparse.Namespace, parser: OneLineParser) -> SimulatorFleet:
    """The fleet the arguments describe; a bad value is a usage error."""
    if args.count < 1:
        parser.error("--count must be at least 1")
    if args.progress is not None and args.progress <= 0:
        parser.error("--progress must be greater than 0")
    if args.ramp < 0 or args.stop_timeout <= 0:
        parser.error("--ramp must not be negative and --stop-timeout must be positive")
    if not args.prefix:
        parser.error("--prefix must not be empty")
    kwh_min = args.kwh_max if args.kwh_min is None else args.kwh_min
    profile_3 = {"certificate_dir": args.certificate_dir} if args.certificate_dir else {}
    try:
        return SimulatorFleet.from_url(
            args.url, args.count, args.prefix,
            interval=args.interval, kwh_min=kwh_min, kwh_max=args.kwh_max,
            duration=args.duration, pre_charge_delay=args.pre_charge_delay,
            repeat=args.repeat, rfid=args.rfid, connectors=args.connectors,
            password=args.password, ca_file=args.cafile, seed=args.seed, **profile_3,
        )  # fmt: skip
    except ConfigError as exc:
        parser.error(str(exc))


def progress_interval(requested: float | None, tty: bool) -> float:
    """Seconds between progress lines: ``requested`` (--progress) when given, else one
    second on a terminal and ten seconds otherwise, so a log is not flooded."""
    if requested is not None:
        return requested
    return TTY_PROGRESS if tty else LOG_PROGRESS


class Progress:
    """Writes the progress line: rewritten in place on a terminal, one line per tick otherwise."""

    def __init__(self, out: TextIO):
        self.out = out
        self.tty = out.isatty()
        self._reported: set[str] = set()

    def show(self, fleet: SimulatorFleet, final: bool = False) -> None:
        """Print new errors, then the progress line."""
        for charger_id, error in fleet.errors():
            if charger_id not in self._reported:
                self._reported.add(charger_id)
                self._write(f"{charger_id}: error: {error}", newline=True)
        self._write(fleet.totals().line(), newline=final or not self.tty)

    def _write(self, text: str, newline: bool) -> None:
        if self.tty:
            self.out.write("\r\x1b[K" + text + ("\n" if newline else ""))
        else:
            self.out.write(text + "\n")
        self.out.flush()


async def run(args: argparse.Namespace, fleet: SimulatorFleet, out: TextIO) -> int:
    """Run the fleet until it is done or a signal arrives; return the exit code."""
    loop = asyncio.get_running_loop()
    interrupted = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, interrupted.set)
    progress = Progress(out)
    interval = progress_interval(args.progress, progress.tty)
    stop_wait = asyncio.create_task(interrupted.wait())
    starting = asyncio.create_task(fleet.start(args.ramp))
    finished: asyncio.Task | None = None
    # Lines keep to this schedule, whatever else wakes the loop (the end of the start).
    next_line = loop.time() + interval
    try:
        while True:
            if finished is None and starting.done():
                finished = asyncio.create_task(fleet.wait())
            await asyncio.wait(
                [stop_wait, finished or starting],
                timeout=max(0.0, next_line - loop.time()),
                return_when=asyncio.FIRST_COMPLETED,
            )
            if interrupted.is_set():
                out.write("\nstopping...\n" if progress.tty else "stopping...\n")
                await fleet.stop(args.stop_timeout)
                progress.show(fleet, final=True)
                return EXIT_OK
            if finished is not None and finished.done():
                progress.show(fleet, final=True)
                return EXIT_ERRORS if fleet.errors() else EXIT_OK
            if loop.time() >= next_line:
                progress.show(fleet)
                next_line = loop.time() + interval
    finally:
        for task in (stop_wait, starting, finished):
            if task is not None:
                task.cancel()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, run the simulators, return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.getLevelName(args.log_level.upper())
    if not isinstance(level, int):
        parser.error(f"unknown --log-level {args.log_level!r}")
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    fleet = make_fleet(args, parser)
    return asyncio.run(run(args, fleet, sys.stdout))


if __name__ == "__main__":
    sys.exit(main())
