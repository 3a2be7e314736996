"""The electrical side of a simulated session: energy, power, current, voltage, SoC.

Energy rises linearly from 0 to the session's target over its duration, so
the last sample of a session that runs to the end reads exactly the target.
A charging profile's limit (``set_limit``) caps the power from then on: the car
charges at min(its power, the limit), and the session takes as long as that needs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ocppj.measurands import CURRENT, ENERGY_REGISTER, POWER, SOC, VOLTAGE
from ocppj.timeutil import format_datetime


@dataclass(slots=True)
class Reading:
    """One instant of a session, as the meter sees it."""

    register_wh: int  # the meter's absolute Energy.Active.Import.Register
    energy_wh: int  # delivered since the session started
    power_w: float
    current_a: float
    voltage_v: float
    soc_percent: float | None  # None when no vehicle is plugged in


@dataclass(slots=True)
class MeterModel:
    """The meter of one session: ``target_wh`` delivered evenly over ``duration`` seconds."""

    meter_start_wh: int
    target_wh: int
    duration: float
    voltage_v: float = 230.0
    battery_wh: float = 60_000.0
    start_soc: float = 20.0
    phases: int = 1
    limit_w: float | None = None  # a charging profile's cap (None: none)
    _base_wh: float = 0.0  # energy when the limit last changed
    _base_t: float = 0.0  # ... and when (seconds since the start)

    @property
    def car_power_w(self) -> float:
        """The power of the car: what delivers the target in the duration."""
        return self.target_wh * 3600.0 / self.duration

    @property
    def power_w(self) -> float:
        """The charging power: the car's, capped by the limit."""
        if self.limit_w is None:
            return self.car_power_w
        return max(0.0, min(self.car_power_w, self.limit_w))

    def set_limit(self, elapsed: float, limit_w: float | None) -> None:
        """From ``elapsed`` seconds on, charge at most at ``limit_w``."""
        if limit_w == self.limit_w:
            return
        self._base_wh = self._energy(elapsed)
        self._base_t = max(self._base_t, elapsed)
        self.limit_w = limit_w

    def _energy(self, elapsed: float) -> float:
        if self._base_t == 0 and self.limit_w is None:
            return self.target_wh * max(0.0, elapsed) / self.duration
        gained = self.power_w * max(0.0, elapsed - self._base_t) / 3600.0
        return min(float(self.target_wh), self._base_wh + gained)

    def remaining_s(self, elapsed: float) -> float:
        """Seconds until the target is delivered at the present power (inf: paused)."""
        if self._base_t == 0 and self.limit_w is None:
            return max(0.0, self.duration - elapsed)
        left = self.target_wh - self._energy(elapsed)
        if left <= 0:
            return 0.0
        power = self.power_w
        return math.inf if power <= 0 else left * 3600.0 / power

    def energy_at(self, elapsed: float) -> int:
        """Wh delivered after ``elapsed`` seconds (the target once it is reached)."""
        if self.remaining_s(elapsed) <= 0:
            return self.target_wh
        return min(self.target_wh, int(self._energy(elapsed)))

    def final_reading(self) -> Reading:
        """The meter of a session that delivered its target."""
        return self._reading(self.target_wh)

    def reading(self, elapsed: float) -> Reading:
        """The meter after ``elapsed`` seconds of charging."""
        return self._reading(self.energy_at(elapsed))

    def _reading(self, energy: int) -> Reading:
        charging = energy < self.target_wh and self.target_wh > 0
        power = self.power_w if charging else 0.0
        soc = min(100.0, self.start_soc + 100.0 * energy / self.battery_wh)
        return Reading(
            register_wh=self.meter_start_wh + energy,
            energy_wh=energy,
            power_w=round(power, 1),
            current_a=round(power / (self.voltage_v * self.phases), 2),
            voltage_v=self.voltage_v,
            soc_percent=round(soc, 1),
        )


def _number(value: float) -> str:
    """A decimal string without exponent or trailing zeros: 7200.0 -> "7200", 1.25 -> "1.25"."""
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def sampled_values(reading: Reading, context: str = "Sample.Periodic") -> list[dict[str, Any]]:
    """The sampledValue list of one reading (Wh, W, A, V, Percent)."""

    def sample(value: str, measurand: str, unit: str, location: str = "Outlet") -> dict[str, Any]:
        """One sampledValue."""
        return {
            "value": value,
            "context": context,
            "measurand": measurand,
            "location": location,
            "unit": unit,
        }

    values = [
        sample(str(reading.register_wh), ENERGY_REGISTER, "Wh"),
        sample(_number(reading.power_w), POWER, "W"),
        sample(_number(reading.current_a), CURRENT, "A"),
        sample(_number(reading.voltage_v), VOLTAGE, "V"),
    ]
    if reading.soc_percent is not None:
        values.append(sample(_number(reading.soc_percent), SOC, "Percent", "EV"))
    return values


def idle_reading(register_wh: int, voltage_v: float) -> Reading:
    """The meter of a connector with no session: no power, no vehicle."""
    return Reading(register_wh, 0, 0.0, 0.0, voltage_v, None)


def meter_values_payload(
    connector: int,
    reading: Reading,
    when: datetime,
    transaction_id: int | None = None,
    context: str = "Sample.Periodic",
) -> dict[str, Any]:
    """A MeterValues.req payload with one reading."""
    payload: dict[str, Any] = {"connectorId": connector}
    if transaction_id is not None:
        payload["transactionId"] = transaction_id
    payload["meterValue"] = [
        {"timestamp": format_datetime(when), "sampledValue": sampled_values(reading, context)}
    ]
    return payload
