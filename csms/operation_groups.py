"""The remote operations as an operator sees them: grouped by purpose, with a human name
and one line of help each (the snake_case names and the OCPP actions stay the keys).

``GROUPS`` covers every operation of ``csms.remote.OPERATIONS`` exactly once (a test
checks it). ``QUICK_ACTIONS`` are the operations the charger page offers as buttons;
``ADMIN_OPERATIONS`` (certificates, security extension) are for administrators only.
"""

from __future__ import annotations

from dataclasses import dataclass

from csms import remote


@dataclass(frozen=True, slots=True)
class Described:
    """One operation's human name and help line."""

    name: str
    title: str
    help: str


@dataclass(frozen=True, slots=True)
class Group:
    """A purpose and its operations, in the order an operator needs them."""

    key: str
    title: str
    operations: tuple[Described, ...]


GROUPS: tuple[Group, ...] = (
    Group("core", "Core", (
        Described("reset", "Reset",
                  "Reboot the charger: Soft ends transactions first, Hard restarts at once."),
        Described("remote_start", "Remote start",
                  "Start charging for a tag on a connector, as if the tag had been presented."),
        Described("remote_stop", "Remote stop",
                  "Stop an open transaction (the charger then sends StopTransaction)."),
        Described("unlock_connector", "Unlock connector",
                  "Release a cable stuck in a connector; a running transaction is stopped."),
        Described("change_availability", "Change availability",
                  "Take a connector (0: the whole charger) out of service, or back in."),
        Described("clear_cache", "Clear authorization cache",
                  "Forget the tags the charger remembered from earlier authorizations."),
        Described("data_transfer", "Data transfer",
                  "Send vendor-specific data the charger's manufacturer defined."),
    )),
    Group("configuration", "Configuration", (
        Described("get_configuration", "Get configuration",
                  "Read the charger's configuration keys (all of them when none are named)."),
        Described("change_configuration", "Change configuration",
                  "Set one configuration key; some changes need a reboot."),
    )),
    Group("smart-charging", "Smart charging", (
        Described("set_charging_profile", "Set charging profile",
                  "Install a power or current limit schedule on a connector or the charger."),
        Described("clear_charging_profile", "Clear charging profile",
                  "Remove charging profiles, by id or by connector, purpose and stack level."),
        Described("get_composite_schedule", "Get composite schedule",
                  "Ask which limits result from all installed profiles for a period."),
    )),
    Group("firmware", "Firmware & diagnostics", (
        Described("update_firmware", "Update firmware",
                  "Have the charger download and install firmware from a URL."),
        Described("get_diagnostics", "Get diagnostics",
                  "Have the charger upload a diagnostics file to a URL."),
        Described("signed_update_firmware", "Signed firmware update",
                  "Install firmware checked against a signing certificate (security extension)."),
        Described("get_log", "Get log",
                  "Have the charger upload its diagnostics or security log to a URL."),
    )),
    Group("local-list", "Local list", (
        Described("get_local_list_version", "Get local list version",
                  "Ask which version of the local authorization list the charger holds."),
        Described("send_local_list", "Send local list",
                  "Send the tags the charger may authorize offline (full list or changes)."),
    )),
    Group("reservations", "Reservations", (
        Described("reserve_now", "Reserve now",
                  "Hold a connector for one tag until the expiry date."),
        Described("cancel_reservation", "Cancel reservation",
                  "Release a reservation before it expires."),
    )),
    Group("security", "Security", (
        Described("install_certificate", "Install certificate",
                  "Install a root certificate the charger trusts."),
        Described("get_installed_certificate_ids", "List installed certificates",
                  "List the charger's root certificates of one type."),
        Described("delete_certificate", "Delete certificate",
                  "Remove an installed root certificate, named by its hash data."),
        Described("certificate_signed", "Send signed certificate",
                  "Send the charger its signed certificate chain after a signing request."),
    )),
    Group("triggers", "Triggers", (
        Described("trigger_message", "Trigger message",
                  "Ask the charger to send a message now (status, meter values, heartbeat...)."),
        Described("extended_trigger_message", "Trigger message (security extension)",
                  "Like Trigger message, with the messages of the security extension."),
    )),
)  # fmt: skip

BY_NAME: dict[str, Described] = {op.name: op for group in GROUPS for op in group.operations}
QUICK_ACTIONS = frozenset(
    {"reset", "unlock_connector", "remote_stop", "remote_start", "change_availability"}
)
# The security group is what only an admin may send (``csms.remote.needed_role``).
ADMIN_OPERATIONS = remote.ADMIN_OPERATIONS


def title_of(name: str) -> str:
    """The human name of an operation (its snake_case name if it has none)."""
    described = BY_NAME.get(name)
    return described.title if described else name.replace("_", " ").capitalize()


def help_of(name: str) -> str:
    """The help line of an operation ("" if it has none)."""
    described = BY_NAME.get(name)
    return described.help if described else ""
