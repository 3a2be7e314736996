"""The report of ``scripts/bench.py``: the plain-text table and the warnings."""

from __future__ import annotations

import json
from typing import Any

LOADGEN_SATURATED_PCT = 90.0
DRAIN_LIMIT_S = 60.0
OTHER_LOAD_PCT = 15.0  # warn when other processes took this share of a benchmark core


def _largest(value: Any) -> float | None:
    """The largest number in a number or a nested dict/list of numbers (None when none)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    found = [n for n in (_largest(item) for item in items) if n is not None]
    return max(found) if found else None


def _cell(value: Any, digits: int = 1) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return json.dumps(value)


def _stop_cell(phase: dict) -> str:
    if phase["stop_killed"]:
        return f"killed after {phase['stop_s']:g}"
    return _cell(phase["stop_s"])


def format_table(report: dict) -> str:
    """The report as a plain-text table, one column per phase."""
    config, phases = report["config"], report["phases"]
    names = list(phases)
    rows: list[tuple[str, Any]] = [
        ("offered CALL/s", lambda p: p["offered_rate"] if p["offered_rate"] else "max"),
        ("sustained CALL/s", lambda p: p["calls_per_s"]),
        ("errors", lambda p: p["errors"]),
        ("latency p50 ms", lambda p: p["latency_ms"]["p50"]),
        ("latency p90 ms", lambda p: p["latency_ms"]["p90"]),
        ("latency p99 ms", lambda p: p["latency_ms"]["p99"]),
        ("latency max ms", lambda p: p["latency_ms"]["max"]),
        ("late / unsent slots", lambda p: f"{p['late']:,} / {p['unsent']:,}"),
        ("server CPU ms/1k CALLs", lambda p: p["server_cpu_ms_per_1k"]),
        ("db CPU ms/1k CALLs", lambda p: p["db_cpu_ms_per_1k"]),
        ("server / db CPU %", lambda p: f"{_cell(p['server_cpu_pct'])} / {_cell(p['db_cpu_pct'])}"),
        ("server RSS KiB/conn", lambda p: p["rss_per_connection_kib"]),
        ("flush lag ms (largest)", lambda p: _largest(p["flush_lag_ms"])),
        ("busy after window s", lambda p: p["drain_s"]),
        ("SIGTERM to exit s", _stop_cell),
        ("loadgen CPU %", lambda p: p["loadgen_cpu_pct"]),
        (
            "other load srv/load core %",
            lambda p: " / ".join(_cell(v) for v in p["other_load_pct"].values()),
        ),
        ("ramp-up s", lambda p: p["ramp_s"]),
    ]
    table = [["", *[name.replace("_", " ") for name in names]]]
    for label, get in rows:
        table.append(
            [label, *[v if isinstance(v := get(phases[n]), str) else _cell(v) for n in names]]
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    lines = [
        f"{config['chargers']:,} chargers ({config['mix']} mix), {config['duration_s']:g} s "
        f"steady after "
        f"{config['warmup_s']:g} s warm-up; server on CPU {_cell(config['server_cpu'])}, "
        f"load on CPU {_cell(config['loadgen_cpu'])} of {config['cpus']}; "
        f"database on the {config['db_cpu'] or 'external'} core; "
        f"{config['database']} database"
    ]
    for row in table:
        lines.append(
            "  ".join(
                [row[0].ljust(widths[0])]
                + [c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
            )
        )
    for name in names:
        actions = phases[name]["by_action"]
        parts = [f"{a} {_cell(v['p99_ms'], 2)} ({v['count']:,})" for a, v in actions.items()]
        lines.append(
            f"by action, p99 ms (CALLs completed), {name.replace('_', ' ')}: " + ", ".join(parts)
        )
    if report["ceiling_ratio"] is not None:
        lines.append(
            f"CSMS / ceiling (closed loop): {report['max_calls_per_s']:,.0f} / "
            f"{report['ceiling_calls_per_s']:,.0f} CALL/s = {report['ceiling_ratio']:.1%}"
        )
    if report.get("reference_ratio") is not None:
        lines.append(
            f"CSMS / ocpp-library CS (closed loop, same load): {report['max_calls_per_s']:,.0f} / "
            f"{report['reference_calls_per_s']:,.0f} CALL/s = {report['reference_ratio']:.2f}x"
        )
    lines.append("PASS: no errors" if report["passed"] else f"FAIL: {report['errors']} errors")
    return "\n".join(lines)


def warnings(report: dict) -> list[str]:
    """Caveats worth printing (error examples, a saturated load generator)."""
    found = []
    for name, phase in report["phases"].items():
        for example in phase["error_examples"][:3]:
            found.append(f"{name}: {example}")
        for core, pct in phase["other_load_pct"].items():
            if (pct or 0) > OTHER_LOAD_PCT:
                found.append(
                    f"{name}: {pct:.0f}% of the {core.replace('_', ' ')} went to other processes "
                    "or the kernel; the figures are disturbed"
                )
        if phase["drain_s"] >= DRAIN_LIMIT_S:
            found.append(
                f"{name}: the server was still busy {DRAIN_LIMIT_S:g} s after the load "
                "(its batched writes fell behind)"
            )
        if phase["stop_killed"]:
            found.append(f"{name}: the server did not exit within {phase['stop_s']:g} s of SIGTERM")
        if (phase["loadgen_cpu_pct"] or 0) > LOADGEN_SATURATED_PCT:
            found.append(
                f"{name}: the load generator used {phase['loadgen_cpu_pct']:.0f}% of its core; "
                "this throughput may be its limit, not the server's"
            )
    return found
