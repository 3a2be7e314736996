"""Tariffs and the price of a session: pure functions on ``Decimal``, no I/O.

A tariff's terms (what ``check_terms`` returns and the ``tariffs`` collection stores)
hold prices as decimal strings: ``energy_per_kwh``, ``time_per_hour`` (charging time),
``idle_per_hour`` (after ``idle_grace_minutes`` of idle time in the session),
``session_fee``, ``min_total``/``max_total`` (or None), ``tax_percent`` with
``tax_included``, and time-of-use ``periods`` that override the three rates on some
weekdays (0 = Monday) between two local times.

Rounding: each component (energy, time, idle, fee, the min/max adjustment, tax) is
rounded once, half-up, to the currency's minor unit; the total is the sum of the
rounded components (tax counts only when it is added, an included tax is the share
of the total that is tax). The periods of a session are summed unrounded first.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from csms.currencies import CURRENCIES, minor_unit

RATES = ("energy_per_kwh", "time_per_hour", "idle_per_hour")
MONEY = (*RATES, "session_fee", "min_total", "max_total")
DEFAULTS: dict[str, Any] = {
    "energy_per_kwh": "0",
    "time_per_hour": "0",
    "idle_per_hour": "0",
    "idle_grace_minutes": 0,
    "session_fee": "0",
    "min_total": None,
    "max_total": None,
    "tax_percent": "0",
    "tax_included": True,
    "periods": [],
}
FIELDS = ("currency", *DEFAULTS)
MAX_AMOUNT = Decimal("1000000")
MAX_DECIMALS = 6
MAX_PERIODS = 50
MAX_GRACE_MINUTES = 7 * 24 * 60
DAY_MINUTES = 24 * 60
ZERO = Decimal(0)
WH_PER_KWH = Decimal(1000)
SECONDS_PER_HOUR = Decimal(3600)
# A tariff id: it appears in URLs and CSV files as it is.
TARIFF_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,47}$")
DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def is_timezone(name: str) -> bool:
    """True for an IANA time zone name this system knows (``Europe/Berlin``, ``UTC``)."""
    if not name or name.startswith(("/", ".")) or ".." in name:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


class TariffError(ValueError):
    """Terms that cannot be stored: ``field`` names the culprit."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


# --- checking terms -----------------------------------------------------------


def amount(value: Any, field: str, *, nullable: bool = False) -> str | None:
    """A non-negative decimal given as a string (or an integer): its plain text.

    Floats are refused: ``0.35`` as a JSON number is already a binary approximation."""
    if value is None and nullable:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise TariffError(field, 'must be a decimal string such as "0.35"')
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise TariffError(field, "must be a decimal number") from None
    if not number.is_finite():
        raise TariffError(field, "must be a finite number")
    if number < 0:
        raise TariffError(field, "must not be negative")
    if number > MAX_AMOUNT:
        raise TariffError(field, f"must be at most {MAX_AMOUNT}")
    if -number.as_tuple().exponent > MAX_DECIMALS:  # type: ignore[operator]
        raise TariffError(field, f"at most {MAX_DECIMALS} decimal places")
    return format(number, "f")  # as given: "6.00" stays "6.00", "1e2" is "100"


def _clock(value: Any, field: str, *, end: bool) -> int:
    """Minutes after local midnight of ``HH:MM`` (``24:00`` only as an end)."""
    if not isinstance(value, str) or len(value) != 5 or value[2] != ":":
        raise TariffError(field, "must be a time HH:MM")
    hours, minutes = value[:2], value[3:]
    if not (hours.isdigit() and minutes.isdigit()):
        raise TariffError(field, "must be a time HH:MM")
    total = int(hours) * 60 + int(minutes)
    if int(minutes) > 59 or total > DAY_MINUTES or (total == DAY_MINUTES and not end):
        raise TariffError(field, "must be a time from 00:00 to 23:59 (24:00 as an end)")
    return total


def _period(raw: Any, index: int) -> dict[str, Any]:
    name = f"periods[{index}]"
    if not isinstance(raw, dict):
        raise TariffError(name, "must be an object")
    for key in raw:
        if key not in ("days", "from", "to", *RATES):
            raise TariffError(f"{name}.{key}", "unknown field")
    days = raw.get("days")
    if (
        not isinstance(days, list)
        or not days
        or any(isinstance(d, bool) or not isinstance(d, int) or not 0 <= d <= 6 for d in days)
        or len(set(days)) != len(days)
    ):
        raise TariffError(f"{name}.days", "must be distinct weekdays 0 (Monday) to 6 (Sunday)")
    start = _clock(raw.get("from"), f"{name}.from", end=False)
    stop = _clock(raw.get("to"), f"{name}.to", end=True)
    if stop <= start:
        raise TariffError(f"{name}.to", "must be later than 'from' (split a night in two)")
    period: dict[str, Any] = {"days": sorted(days), "from": raw["from"], "to": raw["to"]}
    rates = [rate for rate in RATES if rate in raw]
    if not rates:
        raise TariffError(name, "must change at least one of " + ", ".join(RATES))
    for rate in rates:
        period[rate] = amount(raw[rate], f"{name}.{rate}")
    return period


def _check_overlaps(periods: list[dict[str, Any]]) -> None:
    spans = [(set(p["days"]), *period_minutes(p)) for p in periods]
    for i, (days, start, stop) in enumerate(spans):
        for j in range(i):
            other_days, other_start, other_stop = spans[j]
            if days & other_days and start < other_stop and other_start < stop:
                raise TariffError(f"periods[{i}]", f"overlaps periods[{j}]")


def period_minutes(period: dict[str, Any]) -> tuple[int, int]:
    """A stored period's (from, to) in minutes after local midnight."""
    return _clock(period["from"], "from", end=False), _clock(period["to"], "to", end=True)


def check_terms(body: dict[str, Any], current: dict[str, Any] | None = None) -> dict[str, Any]:
    """The terms to store from ``body`` (a new tariff, or a change of ``current``: absent
    fields are kept); TariffError naming the first bad field."""
    for key in body:
        if key not in FIELDS:
            raise TariffError(str(key)[:60], "unknown field")
    merged = {**DEFAULTS, **(current or {}), **body}
    terms: dict[str, Any] = {}
    currency = merged.get("currency")
    if not isinstance(currency, str) or currency not in CURRENCIES:
        raise TariffError("currency", "must be an ISO 4217 code such as EUR")
    terms["currency"] = currency
    for name in MONEY:
        terms[name] = amount(merged[name], name, nullable=name in ("min_total", "max_total"))
    grace = merged["idle_grace_minutes"]
    if isinstance(grace, bool) or not isinstance(grace, int) or not 0 <= grace <= MAX_GRACE_MINUTES:
        raise TariffError("idle_grace_minutes", f"must be an integer 0 to {MAX_GRACE_MINUTES}")
    terms["idle_grace_minutes"] = grace
    tax = amount(merged["tax_percent"], "tax_percent")
    if Decimal(tax) > 100:
        raise TariffError("tax_percent", "must be at most 100")
    terms["tax_percent"] = tax
    if not isinstance(merged["tax_included"], bool):
        raise TariffError("tax_included", "must be true or false")
    terms["tax_included"] = merged["tax_included"]
    low, high = terms["min_total"], terms["max_total"]
    if low is not None and high is not None and Decimal(high) < Decimal(low):
        raise TariffError("max_total", "must not be below min_total")
    raw_periods = merged["periods"]
    if not isinstance(raw_periods, list) or len(raw_periods) > MAX_PERIODS:
        raise TariffError("periods", f"must be a list of at most {MAX_PERIODS} periods")
    terms["periods"] = [_period(raw, i) for i, raw in enumerate(raw_periods)]
    _check_overlaps(terms["periods"])
    return terms


# --- pricing ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Usage:
    """What a session used: its time, energy curve and idle intervals (all UTC).

    ``readings`` are (time, Wh since the start); the curve runs through (start, 0) and
    is linear between readings, so a period's energy is the rise of the curve within
    it. ``idle`` are the intervals the connector was plugged in and not charging."""

    start: datetime
    end: datetime
    energy_wh: Decimal
    readings: tuple[tuple[datetime, Decimal], ...] = ()
    idle: tuple[tuple[datetime, datetime], ...] = ()
    timezone: str = "UTC"


@dataclass(frozen=True, slots=True)
class Cost:
    """A session's price, each component rounded to the currency's minor unit."""

    currency: str
    energy: Decimal
    time: Decimal
    idle: Decimal
    fee: Decimal
    adjustment: Decimal
    tax: Decimal
    tax_included: bool
    total: Decimal

    def as_document(self) -> dict[str, Any]:
        """The stored form: every amount a decimal string."""
        amounts = ("energy", "time", "idle", "fee", "adjustment", "tax", "total")
        doc: dict[str, Any] = {"currency": self.currency}
        doc.update({name: str(getattr(self, name)) for name in amounts})
        doc["tax_included"] = self.tax_included
        return doc


def round_money(value: Decimal, currency: str) -> Decimal:
    """``value`` rounded half-up to the minor unit of ``currency`` (JPY 1, EUR 0.01, KWD
    0.001)."""
    return value.quantize(Decimal(1).scaleb(-minor_unit(currency)), rounding=ROUND_HALF_UP)


def rates_at(terms: dict[str, Any], local: datetime) -> dict[str, Decimal]:
    """The three rates in force at local wall-clock time ``local``."""
    rates = {rate: Decimal(terms[rate]) for rate in RATES}
    minute = local.hour * 60 + local.minute
    for period in terms.get("periods") or []:
        start, stop = period_minutes(period)
        if local.weekday() in period["days"] and start <= minute < stop:
            rates.update({rate: Decimal(period[rate]) for rate in RATES if rate in period})
            break
    return rates


def _next_edge(terms: dict[str, Any], t: datetime, zone: ZoneInfo) -> datetime:
    """The first instant after ``t`` where the rates may change: a period edge or the
    local midnight."""
    local = t.astimezone(zone)
    minute = local.hour * 60 + local.minute
    edges = [DAY_MINUTES]
    for period in terms.get("periods") or []:
        edges.extend(m for m in period_minutes(period) if m > minute)
    midnight = datetime(local.year, local.month, local.day)
    edge = (midnight + timedelta(minutes=min(edges))).replace(tzinfo=zone).astimezone(UTC)
    # A local time skipped or repeated by a DST change can map to or before t.
    return edge if edge > t else t + timedelta(minutes=1)


def segments(
    terms: dict[str, Any], start: datetime, end: datetime, timezone: str = "UTC"
) -> list[tuple[datetime, datetime, dict[str, Decimal]]]:
    """[start, end) cut where the rates change, each piece with its rates."""
    zone = ZoneInfo(timezone)
    pieces = []
    t = start
    while t < end:
        edge = end if not terms.get("periods") else min(_next_edge(terms, t, zone), end)
        pieces.append((t, edge, rates_at(terms, t.astimezone(zone))))
        t = edge
    return pieces


def _curve(usage: Usage) -> list[tuple[datetime, Decimal]]:
    """The energy curve: through (start, 0) and (end, energy), never falling."""
    points = [(usage.start, ZERO)]
    for ts, wh in sorted(usage.readings):
        if usage.start < ts < usage.end:
            points.append((ts, min(max(wh, points[-1][1]), usage.energy_wh)))
    points.append((usage.end, max(usage.energy_wh, points[-1][1])))
    return points


def _energy_at(curve: list[tuple[datetime, Decimal]], t: datetime) -> Decimal:
    for (t0, e0), (t1, e1) in itertools.pairwise(curve):
        if t0 <= t <= t1:
            span = seconds_of(t1 - t0)
            if span == 0:
                return e1
            return e0 + (e1 - e0) * seconds_of(t - t0) / span
    return curve[-1][1] if t > curve[-1][0] else ZERO


def _merge(intervals: list[tuple[datetime, datetime]], start: datetime, end: datetime):
    """The union of ``intervals`` within [start, end], sorted."""
    merged: list[list[datetime]] = []
    for low, high in sorted((max(a, start), min(b, end)) for a, b in intervals):
        if high <= low:
            continue
        if merged and low <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], high)
        else:
            merged.append([low, high])
    return [(low, high) for low, high in merged]


def _after_grace(intervals: list[tuple[datetime, datetime]], grace: timedelta):
    """The idle intervals left once the first ``grace`` of idle time is taken off."""
    left = []
    for low, high in intervals:
        if grace >= high - low:
            grace -= high - low
            continue
        left.append((low + grace, high))
        grace = timedelta(0)
    return left


def _overlap(intervals: list[tuple[datetime, datetime]], low: datetime, high: datetime) -> Decimal:
    total = ZERO
    for a, b in intervals:
        if min(b, high) > max(a, low):
            total += seconds_of(min(b, high) - max(a, low))
    return total


def seconds_of(span: timedelta) -> Decimal:
    """A duration in seconds, exactly (to the microsecond)."""
    return Decimal(span.days * 86400 + span.seconds) + Decimal(span.microseconds).scaleb(-6)


def price(terms: dict[str, Any], usage: Usage) -> Cost:
    """The price of ``usage`` under ``terms`` (see the module's rounding rule)."""
    currency = terms["currency"]
    end = max(usage.end, usage.start)
    usage = Usage(usage.start, end, max(usage.energy_wh, ZERO), usage.readings, usage.idle,
                  usage.timezone)  # fmt: skip
    curve = _curve(usage)
    idle = _merge(list(usage.idle), usage.start, end)
    billable = _after_grace(idle, timedelta(minutes=terms["idle_grace_minutes"]))
    energy = time = idle_cost = ZERO
    for low, high, rates in segments(terms, usage.start, end, usage.timezone):
        wh = _energy_at(curve, high) - _energy_at(curve, low)
        seconds = seconds_of(high - low)
        idle_seconds = _overlap(idle, low, high)
        energy += wh / WH_PER_KWH * rates["energy_per_kwh"]
        time += (seconds - idle_seconds) / SECONDS_PER_HOUR * rates["time_per_hour"]
        idle_cost += _overlap(billable, low, high) / SECONDS_PER_HOUR * rates["idle_per_hour"]
    parts = [round_money(value, currency) for value in (energy, time, idle_cost)]
    fee = round_money(Decimal(terms["session_fee"]), currency)
    subtotal = sum(parts, fee)
    bounded = subtotal
    if terms.get("min_total") is not None:
        bounded = max(bounded, round_money(Decimal(terms["min_total"]), currency))
    if terms.get("max_total") is not None:
        bounded = min(bounded, round_money(Decimal(terms["max_total"]), currency))
    rate = Decimal(terms["tax_percent"]) / 100
    if terms["tax_included"]:
        tax = round_money(bounded * rate / (1 + rate), currency)
        total = bounded
    else:
        tax = round_money(bounded * rate, currency)
        total = bounded + tax
    return Cost(currency, *parts, fee, bounded - subtotal, tax, terms["tax_included"], total)


# --- in words -----------------------------------------------------------------


def money_text(value: str | Decimal, currency: str) -> str:
    """An amount with at least the currency's minor unit of decimals (``0.35``, ``1.00``,
    ``0.3499``, ``500`` JPY)."""
    number = Decimal(value)
    places = max(minor_unit(currency), -number.normalize().as_tuple().exponent)  # type: ignore[operator]
    return f"{number:.{places}f}"


def _rates_words(rates: dict[str, Decimal], terms: dict[str, Any], currency: str) -> list[str]:
    words = []
    if rates["energy_per_kwh"]:
        words.append(f"{money_text(rates['energy_per_kwh'], currency)} {currency}/kWh")
    if rates["time_per_hour"]:
        words.append(f"{money_text(rates['time_per_hour'], currency)} {currency} per hour charging")
    if rates["idle_per_hour"]:
        grace = terms["idle_grace_minutes"]
        after = f" after {grace} min" if grace else ""
        words.append(
            f"{money_text(rates['idle_per_hour'], currency)} {currency} per hour idle{after}"
        )
    return words


def describe(terms: dict[str, Any], at: datetime | None = None, timezone: str = "UTC") -> str:
    """The price in force at ``at`` (None: the base rates) in plain words, e.g.
    ``0.35 EUR/kWh + 1.00 EUR per session, VAT included``."""
    currency = terms["currency"]
    if at is None:
        rates = {rate: Decimal(terms[rate]) for rate in RATES}
    else:
        rates = rates_at(terms, at.astimezone(ZoneInfo(timezone)))
    words = _rates_words(rates, terms, currency)
    if Decimal(terms["session_fee"]):
        words.append(f"{money_text(terms['session_fee'], currency)} {currency} per session")
    text = " + ".join(words) if words else "Free of charge"
    return text + _bounds_and_tax(terms)


def describe_rates(terms: dict[str, Any]) -> str:
    """The base rates alone (outside every period), e.g. ``0.35 EUR/kWh``."""
    rates = {rate: Decimal(terms[rate]) for rate in RATES}
    return " + ".join(_rates_words(rates, terms, terms["currency"])) or "free"


def describe_session_terms(terms: dict[str, Any]) -> str:
    """What holds at every time of day, e.g. ``1.00 EUR per session, VAT included``
    (empty when nothing does)."""
    currency = terms["currency"]
    fee = Decimal(terms["session_fee"])
    text = f"{money_text(terms['session_fee'], currency)} {currency} per session" if fee else ""
    return (text + _bounds_and_tax(terms)).removeprefix(", ").strip()


def _bounds_and_tax(terms: dict[str, Any]) -> str:
    currency = terms["currency"]
    text = ""
    bounds = []
    if terms.get("min_total") is not None:
        bounds.append(f"at least {money_text(terms['min_total'], currency)} {currency}")
    if terms.get("max_total") is not None:
        bounds.append(f"at most {money_text(terms['max_total'], currency)} {currency}")
    if bounds:
        text += " (" + ", ".join(bounds) + " per session)"
    if Decimal(terms["tax_percent"]):
        percent = money_text(terms["tax_percent"], "JPY")
        text += ", VAT included" if terms["tax_included"] else f", plus {percent}% VAT"
    return text


def describe_periods(terms: dict[str, Any]) -> list[str]:
    """Each time-of-use period in words: ``Mon-Fri 07:00-20:00: 0.45 EUR/kWh``."""
    currency = terms["currency"]
    lines = []
    for period in terms.get("periods") or []:
        rates = {rate: Decimal(terms[rate]) for rate in RATES}
        rates.update({rate: Decimal(period[rate]) for rate in RATES if rate in period})
        days = period["days"]
        if days == list(range(days[0], days[-1] + 1)) and len(days) > 2:
            day_text = f"{DAY_NAMES[days[0]]}-{DAY_NAMES[days[-1]]}"
        else:
            day_text = ", ".join(DAY_NAMES[d] for d in days)
        words = " + ".join(_rates_words(rates, terms, currency)) or "free"
        lines.append(f"{day_text} {period['from']}-{period['to']}: {words}")
    return lines
