"""OCPP 1.6 Measurand values (SampledValue.measurand), as the specification spells them."""

from __future__ import annotations

ENERGY_REGISTER = "Energy.Active.Import.Register"  # the default when none is given
POWER = "Power.Active.Import"
CURRENT = "Current.Import"
VOLTAGE = "Voltage"
SOC = "SoC"

# Every value the 1.6 schema allows, grouped by kind (for pickers and filters).
MEASURANDS = (
    "Current.Export", "Current.Import", "Current.Offered",
    "Energy.Active.Export.Register", "Energy.Active.Import.Register",
    "Energy.Reactive.Export.Register", "Energy.Reactive.Import.Register",
    "Energy.Active.Export.Interval", "Energy.Active.Import.Interval",
    "Energy.Reactive.Export.Interval", "Energy.Reactive.Import.Interval",
    "Frequency", "Power.Active.Export", "Power.Active.Import", "Power.Factor",
    "Power.Offered", "Power.Reactive.Export", "Power.Reactive.Import", "RPM", "SoC",
    "Temperature", "Voltage",
)  # fmt: skip
