"""The charger route's tests: the app is built with ``limits``, which a module overrides or
a test parametrizes."""

from __future__ import annotations

import pytest

from handlers.chargepoint.limits import LimitSettings
from handlers.routes import make_app
from tests.conftest import COOKIE_SECRET


@pytest.fixture
def limits():
    """The limits of the app under test (tests parametrize this)."""
    return LimitSettings()


@pytest.fixture
def app(services, registry, web_settings, limits):
    """The application with ``limits``."""
    return make_app(
        services, registry, web=web_settings, cookie_secret=COOKIE_SECRET,
        ping_interval=None, ping_timeout=None, limits=limits,
    )  # fmt: skip
