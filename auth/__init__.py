"""Hashing and credentials shared by the web side and the data layer: operator passwords
and API tokens, charger keys, HTTP Basic parsing. A leaf: it imports nothing of ours."""
