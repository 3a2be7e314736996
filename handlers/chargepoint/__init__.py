"""The charge point side of the web server: the OCPP WebSocket, its admission (security
profiles, unknown chargers, failed-login limits), connection limits, the sink."""
