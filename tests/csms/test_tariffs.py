"""The pricing rules of csms.tariffs, each amount worked out by hand in the test."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from csms.tariffs import (
    Cost,
    TariffError,
    Usage,
    check_terms,
    describe,
    describe_periods,
    describe_rates,
    describe_session_terms,
    money_text,
    price,
    round_money,
    segments,
)

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)  # a Tuesday


def terms(**fields):
    return check_terms({"currency": "EUR", **fields})


def usage(hours=1.0, wh="0", readings=(), idle=(), start=T0, timezone="UTC"):
    return Usage(
        start, start + timedelta(hours=hours), Decimal(wh), tuple(readings), tuple(idle), timezone
    )


def amounts(cost: Cost) -> dict[str, str]:
    doc = cost.as_document()
    doc.pop("currency")
    doc.pop("tax_included")
    return doc


def test_energy_only():
    # 12.345 kWh x 0.35 = 4.32075 -> 4.32
    cost = price(terms(energy_per_kwh="0.35"), usage(wh="12345"))
    assert amounts(cost) == {
        "energy": "4.32",
        "time": "0.00",
        "idle": "0.00",
        "fee": "0.00",
        "adjustment": "0.00",
        "tax": "0.00",
        "total": "4.32",
    }


def test_energy_fee_and_tax_added():
    # 10 kWh x 0.30 = 3.00; fee 1.00; net 4.00; 19 % of 4.00 = 0.76; total 4.76
    tariff = terms(energy_per_kwh="0.30", session_fee="1.00", tax_percent="19", tax_included=False)
    cost = price(tariff, usage(wh="10000"))
    assert (cost.energy, cost.fee, cost.tax, cost.total) == (
        Decimal("3.00"),
        Decimal("1.00"),
        Decimal("0.76"),
        Decimal("4.76"),
    )


def test_tax_included_is_the_share_of_the_total():
    # 20 kWh x 0.35 = 7.00 + fee 1.00 = 8.00 gross; VAT 19 % inside: 8.00 x 19/119 =
    # 1.27731... -> 1.28; the total stays 8.00
    tariff = terms(energy_per_kwh="0.35", session_fee="1.00", tax_percent="19")
    cost = price(tariff, usage(wh="20000"))
    assert (cost.tax, cost.total, cost.tax_included) == (Decimal("1.28"), Decimal("8.00"), True)


def test_half_up_rounding_of_each_component():
    # 1 kWh x 0.125 = 0.125 -> 0.13 (half-up, not to even); 1 h x 0.005 -> 0.01
    cost = price(terms(energy_per_kwh="0.125", time_per_hour="0.005"), usage(wh="1000"))
    assert (cost.energy, cost.time, cost.total) == (
        Decimal("0.13"),
        Decimal("0.01"),
        Decimal("0.14"),
    )


def test_a_session_crossing_20_00_has_two_prices():
    # Tuesday 18:00-22:00 UTC, 0.45 until 20:00 then 0.35. The register: 0 at 18:00,
    # 10 kWh at 20:00, 16 kWh at 22:00. 10 x 0.45 = 4.50 + 6 x 0.35 = 2.10 -> 6.60
    tariff = terms(
        energy_per_kwh="0.35",
        periods=[
            {"days": [0, 1, 2, 3, 4], "from": "07:00", "to": "20:00", "energy_per_kwh": "0.45"}
        ],
    )
    start = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)
    readings = [(start + timedelta(hours=2), Decimal(10000))]
    cost = price(tariff, usage(hours=4, wh="16000", readings=readings, start=start))
    assert cost.energy == Decimal("6.60")


def test_the_boundary_falls_between_readings():
    # 19:00-21:00, readings at 19:30 (3 kWh) and 20:30 (9 kWh): linear between them, the
    # register is 6 kWh at 20:00. 6 x 0.45 = 2.70 + (12 - 6) x 0.35 = 2.10 -> 4.80
    tariff = terms(
        energy_per_kwh="0.35",
        periods=[{"days": [1], "from": "07:00", "to": "20:00", "energy_per_kwh": "0.45"}],
    )
    start = datetime(2026, 12, 1, 19, 0, tzinfo=UTC)
    readings = [
        (start + timedelta(minutes=30), Decimal(3000)),
        (start + timedelta(minutes=90), Decimal(9000)),
    ]
    assert price(tariff, usage(hours=2, wh="12000", readings=readings, start=start)).energy == (
        Decimal("4.80")
    )


def test_periods_follow_the_local_time_zone():
    # 20:00 in Berlin (winter, UTC+1) is 19:00 UTC. Session 18:00-20:00 UTC, 5 kWh each
    # hour: 18-19 UTC is 19-20 local (0.45), 19-20 UTC is 20-21 local (0.35): 2.25 + 1.75
    tariff = terms(
        energy_per_kwh="0.35",
        periods=[{"days": [1], "from": "07:00", "to": "20:00", "energy_per_kwh": "0.45"}],
    )
    start = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)
    readings = [(start + timedelta(hours=1), Decimal(5000))]
    cost = price(
        tariff, usage(hours=2, wh="10000", readings=readings, start=start, timezone="Europe/Berlin")
    )
    assert cost.energy == Decimal("4.00")
    cuts = segments(tariff, start, start + timedelta(hours=2), "Europe/Berlin")
    assert [(a.hour, b.hour) for a, b, _ in cuts] == [(18, 19), (19, 20)]


def test_idle_time_after_the_grace_period():
    # 3 h session, idle from 1:00 to 2:00 and from 2:30 to 3:00 (90 min); 15 min grace:
    # 75 min x 6.00/h = 7.50. Charging time 3 h - 1.5 h = 1.5 h x 2.00 = 3.00
    tariff = terms(time_per_hour="2.00", idle_per_hour="6.00", idle_grace_minutes=15)
    idle = [
        (T0 + timedelta(hours=1), T0 + timedelta(hours=2)),
        (T0 + timedelta(minutes=150), T0 + timedelta(hours=3)),
    ]
    cost = price(tariff, usage(hours=3, idle=idle))
    assert (cost.idle, cost.time, cost.total) == (
        Decimal("7.50"),
        Decimal("3.00"),
        Decimal("10.50"),
    )


def test_idle_within_the_grace_period_is_free():
    tariff = terms(idle_per_hour="6.00", idle_grace_minutes=15)
    idle = [
        (T0, T0 + timedelta(minutes=10)),
        (T0 + timedelta(minutes=20), T0 + timedelta(minutes=25)),
    ]
    assert price(tariff, usage(idle=idle)).idle == Decimal("0.00")


def test_minimum_total():
    # 1 kWh x 0.35 = 0.35 < minimum 2.00: adjustment +1.65, total 2.00
    cost = price(terms(energy_per_kwh="0.35", min_total="2.00"), usage(wh="1000"))
    assert (cost.energy, cost.adjustment, cost.total) == (
        Decimal("0.35"),
        Decimal("1.65"),
        Decimal("2.00"),
    )


def test_maximum_total_with_tax_added():
    # 100 kWh x 0.50 = 50.00 > maximum 30.00: adjustment -20.00; 10 % VAT on 30.00 = 3.00
    tariff = terms(energy_per_kwh="0.50", max_total="30", tax_percent="10", tax_included=False)
    cost = price(tariff, usage(wh="100000"))
    assert (cost.adjustment, cost.tax, cost.total) == (
        Decimal("-20.00"),
        Decimal("3.00"),
        Decimal("33.00"),
    )


def test_jpy_has_no_minor_unit():
    # 7.5 kWh x 45.5 JPY = 341.25 -> 341; fee 100; 10 % VAT added: 44.1 -> 44; total 485
    tariff = check_terms(
        {
            "currency": "JPY",
            "energy_per_kwh": "45.5",
            "session_fee": "100",
            "tax_percent": "10",
            "tax_included": False,
        }
    )
    cost = price(tariff, usage(wh="7500"))
    assert amounts(cost) == {
        "energy": "341",
        "time": "0",
        "idle": "0",
        "fee": "100",
        "adjustment": "0",
        "tax": "44",
        "total": "485",
    }


def test_kwd_has_three_decimals():
    # 12.345 kWh x 0.0375 KWD = 0.4629375 -> 0.463
    tariff = check_terms({"currency": "KWD", "energy_per_kwh": "0.0375"})
    cost = price(tariff, usage(wh="12345"))
    assert (str(cost.energy), str(cost.total)) == ("0.463", "0.463")


def test_round_money():
    assert round_money(Decimal("2.5"), "JPY") == Decimal("3")
    assert round_money(Decimal("0.0005"), "KWD") == Decimal("0.001")
    assert round_money(Decimal("0.005"), "EUR") == Decimal("0.01")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"currency": "EURO"}, "currency"),
        ({"currency": "eur"}, "currency"),
        ({"currency": "XAU"}, "currency"),
        ({"currency": "EUR", "energy_per_kwh": "-0.01"}, "energy_per_kwh"),
        ({"currency": "EUR", "energy_per_kwh": 0.35}, "energy_per_kwh"),
        ({"currency": "EUR", "session_fee": "NaN"}, "session_fee"),
        ({"currency": "EUR", "session_fee": "abc"}, "session_fee"),
        ({"currency": "EUR", "tax_percent": "101"}, "tax_percent"),
        ({"currency": "EUR", "tax_included": "yes"}, "tax_included"),
        ({"currency": "EUR", "idle_grace_minutes": -1}, "idle_grace_minutes"),
        ({"currency": "EUR", "min_total": "5", "max_total": "4"}, "max_total"),
        ({"currency": "EUR", "colour": "red"}, "colour"),
        (
            {
                "currency": "EUR",
                "periods": [{"days": [7], "from": "07:00", "to": "08:00", "energy_per_kwh": "1"}],
            },
            "periods[0].days",
        ),
        (
            {
                "currency": "EUR",
                "periods": [{"days": [1], "from": "09:00", "to": "08:00", "energy_per_kwh": "1"}],
            },
            "periods[0].to",
        ),
        (
            {
                "currency": "EUR",
                "periods": [{"days": [1], "from": "7:00", "to": "08:00", "energy_per_kwh": "1"}],
            },
            "periods[0].from",
        ),
        (
            {"currency": "EUR", "periods": [{"days": [1], "from": "07:00", "to": "08:00"}]},
            "periods[0]",
        ),
        (
            {
                "currency": "EUR",
                "periods": [
                    {"days": [0, 1], "from": "07:00", "to": "20:00", "energy_per_kwh": "1"},
                    {"days": [1, 2], "from": "19:00", "to": "22:00", "energy_per_kwh": "2"},
                ],
            },
            "periods[1]",
        ),
    ],
)
def test_bad_terms_name_the_field(body, field):
    with pytest.raises(TariffError) as caught:
        check_terms(body)
    assert caught.value.field == field


def test_terms_get_defaults_and_amounts_as_given():
    stored = check_terms({"currency": "EUR", "energy_per_kwh": "0.350", "session_fee": 1,
                          "min_total": " 1e1 "})  # fmt: skip
    assert stored == {
        "currency": "EUR",
        "energy_per_kwh": "0.350",
        "time_per_hour": "0",
        "idle_per_hour": "0",
        "idle_grace_minutes": 0,
        "session_fee": "1",
        "min_total": "10",
        "max_total": None,
        "tax_percent": "0",
        "tax_included": True,
        "periods": [],
    }
    # A change keeps what it does not name.
    assert check_terms({"session_fee": "2"}, stored)["energy_per_kwh"] == "0.350"


def test_adjacent_periods_do_not_overlap():
    check_terms(
        {
            "currency": "EUR",
            "periods": [
                {"days": [1], "from": "00:00", "to": "07:00", "energy_per_kwh": "0.2"},
                {"days": [1], "from": "07:00", "to": "24:00", "energy_per_kwh": "0.4"},
            ],
        }
    )


def test_price_in_words():
    tariff = terms(energy_per_kwh="0.35", session_fee="1.00", tax_percent="19")
    assert describe(tariff) == "0.35 EUR/kWh + 1.00 EUR per session, VAT included"
    tariff = terms(
        energy_per_kwh="0.35",
        idle_per_hour="6",
        idle_grace_minutes=15,
        tax_percent="19",
        tax_included=False,
        min_total="2",
        periods=[
            {"days": [0, 1, 2, 3, 4], "from": "07:00", "to": "20:00", "energy_per_kwh": "0.45"}
        ],
    )
    assert describe(tariff, datetime(2026, 12, 1, 8, tzinfo=UTC)) == (
        "0.45 EUR/kWh + 6.00 EUR per hour idle after 15 min (at least 2.00 EUR per session), "
        "plus 19% VAT"
    )
    assert describe(tariff, datetime(2026, 12, 5, 8, tzinfo=UTC)).startswith("0.35 EUR/kWh")
    assert describe_periods(tariff) == [
        "Mon-Fri 07:00-20:00: 0.45 EUR/kWh + 6.00 EUR per hour idle after 15 min"
    ]
    assert describe(terms()) == "Free of charge"
    assert money_text("0.3499", "EUR") == "0.3499"
    assert money_text("500", "JPY") == "500"


# --- property test ---------------------------------------------------------------

_money = st.decimals(min_value=0, max_value=100, places=3).map(str)
_period = st.fixed_dictionaries(
    {
        "days": st.lists(st.integers(0, 6), min_size=1, max_size=7, unique=True),
        "from": st.sampled_from(["00:00", "07:00", "12:30"]),
        "to": st.sampled_from(["13:00", "20:00", "24:00"]),
        "energy_per_kwh": _money,
    }
)
_terms = st.fixed_dictionaries(
    {
        "currency": st.sampled_from(["EUR", "JPY", "KWD", "USD"]),
        "energy_per_kwh": _money,
        "time_per_hour": _money,
        "idle_per_hour": _money,
        "idle_grace_minutes": st.integers(0, 120),
        "session_fee": _money,
        "min_total": st.none() | _money,
        "max_total": st.none() | _money,
        "tax_percent": st.decimals(min_value=0, max_value=30, places=1).map(str),
        "tax_included": st.booleans(),
        "periods": st.lists(_period, max_size=1),
    }
)


@settings(max_examples=300, deadline=None)
@given(
    body=_terms,
    minutes=st.integers(0, 3 * 24 * 60),
    wh=st.integers(0, 500_000),
    offsets=st.lists(st.integers(0, 3 * 24 * 60), max_size=6),
    zone=st.sampled_from(["UTC", "Europe/Berlin", "America/New_York"]),
)
def test_total_is_the_sum_never_negative_and_stable(body, minutes, wh, offsets, zone):
    if (
        body["min_total"]
        and body["max_total"]
        and Decimal(body["max_total"]) < Decimal(body["min_total"])
    ):
        body["max_total"] = body["min_total"]
    tariff = check_terms(body)
    start = datetime(2026, 3, 28, 22, 17, 13, tzinfo=UTC)  # across a DST change
    end = start + timedelta(minutes=minutes)
    marks = sorted(start + timedelta(minutes=m) for m in offsets)
    idle = tuple(zip(marks[::2], marks[1::2], strict=False))
    readings = tuple((ts, Decimal(wh) * i / len(marks)) for i, ts in enumerate(marks, 1))
    session = Usage(start, end, Decimal(wh), readings, idle, zone)
    cost = price(tariff, session)
    parts = cost.energy + cost.time + cost.idle + cost.fee + cost.adjustment
    assert cost.total == parts + (0 if cost.tax_included else cost.tax)
    assert cost.total >= 0
    assert min(cost.energy, cost.time, cost.idle, cost.fee, cost.tax) >= 0
    assert price(tariff, session) == cost
    exponent = -{"EUR": 2, "USD": 2, "JPY": 0, "KWD": 3}[body["currency"]]
    assert all(
        getattr(cost, name).as_tuple().exponent == exponent
        for name in ("energy", "time", "idle", "fee", "adjustment", "tax", "total")
    )


def test_the_rates_and_the_terms_of_every_period_are_said_apart():
    terms = check_terms({"currency": "EUR", "energy_per_kwh": "0.35", "idle_per_hour": "6.00",
                         "idle_grace_minutes": 15, "session_fee": "1.00", "tax_percent": "19",
                         "tax_included": True, "max_total": "30"})  # fmt: skip
    assert describe_rates(terms) == "0.35 EUR/kWh + 6.00 EUR per hour idle after 15 min"
    assert describe_session_terms(terms) == (
        "1.00 EUR per session (at most 30.00 EUR per session), VAT included"
    )
    assert describe(terms) == " + ".join([describe_rates(terms), describe_session_terms(terms)])
    assert describe_session_terms(check_terms({"currency": "JPY", "energy_per_kwh": "40",
                                               "tax_percent": "10", "tax_included": False})) == (
        "plus 10% VAT"
    )  # fmt: skip
    assert describe_session_terms(check_terms({"currency": "EUR", "tax_percent": "0"})) == ""
