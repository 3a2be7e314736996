"""Markers of the chaos tests (registered here so ``--strict-markers`` accepts them)."""

from __future__ import annotations


def pytest_configure(config):
    """Register the ``storm`` marker."""
    config.addinivalue_line(
        "markers", "storm: the 1,000-charger reconnect storm (heavy: ~1 min on 2 cores)"
    )
