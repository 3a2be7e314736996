"""Placeholder: routes of this module are added by issue 3."""

from __future__ import annotations

ROUTES: list = []
