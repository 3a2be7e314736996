"""What an operator does with a charger record, the same from the admin and the API:
delete it with its data, and find chargers (the status filters).
"""

from __future__ import annotations

from csms.registry import ConnectionRegistry
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
