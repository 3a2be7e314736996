"""The JSON REST API: chargers and their operations, sessions and meter values, RFID tags,
the OpenAPI document. Each module ends in its own ``default_handlers``."""
