"""What an operator does with a charger record, the same from the admin and the API:
change its settings (name, require_rfid, position, config), delete it with its data,
and find chargers (search text and status filters).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from csms import forms
from csms.registry import ConnectionRegistry
from csms.remote_params import BOOLEAN, NUMBER, OBJECT, STRING, Param, ParameterError
from csms.services import Services
from models.chargers import OFFLINE, ONLINE

# OCPP 1.6 ChargePointStatus values.
CONNECTOR_STATUSES = ("Available", "Preparing", "Charging", "SuspendedEVSE", "SuspendedEV",
                      "Finishing", "Reserved", "Unavailable", "Faulted")  # fmt: skip
# What the charger lists can be filtered by: connected or not, or a connector status of a
# connected charger.
STATUS_FILTERS = (ONLINE, OFFLINE, *CONNECTOR_STATUSES)
CLOSE_DELETED = 1000
# Collections purged with a charger, in the order they are reported.
PURGED = ("chargers", "transactions", "meter_values", "messages", "commands", "anomalies",
          "security_events")  # fmt: skip

CHANGES = {
    "name": Param("name", STRING, max_length=forms.MAX_NAME),
    "require_rfid": Param("require_rfid", BOOLEAN),
    "latitude": Param("latitude", NUMBER, minimum=-90, maximum=90),
    "longitude": Param("longitude", NUMBER, minimum=-180, maximum=180),
    "config": Param("config", OBJECT),
}
# Fields that may be cleared with null.
NULLABLE = ("latitude", "longitude")


def parse_changes(current: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """The fields to store from typed ``changes`` (absent: unchanged; null clears a
    coordinate); ParameterError naming the first bad field. The position ends up with
    both coordinates or neither."""
    fields: dict[str, Any] = {}
    for name, value in changes.items():
        param = CHANGES.get(name)
        if param is None:
            raise ParameterError(str(name)[:60], f"unknown field (known: {', '.join(CHANGES)})")
        if value is None:
            if name not in NULLABLE:
                raise ParameterError(name, "must not be null")
            fields[name] = None
            continue
        fields[name] = param.parse(value)
    if "name" in fields:
        try:
            fields["name"] = forms.text(fields["name"], forms.MAX_NAME)
        except forms.FieldError as exc:
            raise ParameterError("name", str(exc)) from None
    if "config" in fields:
        try:
            forms.check_storable(fields["config"], "$")
        except forms.FieldError as exc:
            raise ParameterError("config", str(exc)) from None
        if len(orjson.dumps(fields["config"])) > forms.MAX_CONFIG_CHARS:
            raise ParameterError("config", f"at most {forms.MAX_CONFIG_CHARS} bytes of JSON")
    latitude = fields.get("latitude", current.get("latitude"))
    longitude = fields.get("longitude", current.get("longitude"))
    if (latitude is None) != (longitude is None):
        missing = "latitude" if latitude is None else "longitude"
        raise ParameterError(missing, "give both coordinates, or neither")
    return fields


async def delete_charger(
    services: Services, registry: ConnectionRegistry, charger_id: str
) -> dict[str, int]:
    """Disconnect the charger, write what is buffered, then delete it and everything
    recorded for it; the number of documents removed per collection."""
    connection = registry.get(charger_id)
    if connection is not None:
        connection.close(CLOSE_DELETED, "deleted")
    # Buffered meter values and log entries must reach the database before the purge.
    await services.flush()
    return await services.chargers.delete_with_data(charger_id)
