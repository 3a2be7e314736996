"""Roles of the people who use the Central System: viewer < operator < admin.

A viewer reads; an operator also operates chargers and manages tags, sites and tariffs;
an admin also manages users, API tokens of others, security profiles, certificates,
charger keys and server settings."""

from __future__ import annotations

ROLES = ("viewer", "operator", "admin")
VIEWER, OPERATOR, ADMIN = ROLES


def is_role(value: object) -> bool:
    """Whether ``value`` names a role."""
    return value in ROLES


def rank(role: str) -> int:
    """The role's place in the order (an unknown role ranks below viewer)."""
    return ROLES.index(role) if role in ROLES else -1


def allows(role: str | None, needed: str) -> bool:
    """Whether someone with ``role`` may do what needs ``needed``."""
    return role is not None and rank(role) >= rank(needed) >= 0


def lowest(*roles: str | None) -> str:
    """The least of the given roles (None ones are skipped; none at all is viewer)."""
    known = [role for role in roles if role is not None]
    return min(known, key=rank) if known else VIEWER
