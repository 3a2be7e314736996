"""Tornado UI modules usable in any template (``{% module Name(...) %}``)."""

from __future__ import annotations

UI_MODULES: dict = {}
