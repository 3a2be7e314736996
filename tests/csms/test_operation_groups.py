"""The operations as grouped for operators: every operation once, with a name and help."""

from __future__ import annotations

from csms import operation_groups, remote


def test_every_operation_is_in_exactly_one_group_with_a_title_and_help():
    names = [op.name for group in operation_groups.GROUPS for op in group.operations]
    assert sorted(names) == sorted(remote.OPERATIONS)
    assert len(names) == len(set(names)) == 26
    for name in names:
        assert operation_groups.title_of(name)[0].isupper()
        assert operation_groups.help_of(name).endswith(".")
    assert [group.title for group in operation_groups.GROUPS] == [
        "Core", "Configuration", "Smart charging", "Firmware & diagnostics", "Local list",
        "Reservations", "Security", "Triggers",
    ]  # fmt: skip


def test_quick_actions_and_admin_operations():
    assert operation_groups.QUICK_ACTIONS == {
        "reset", "unlock_connector", "remote_stop", "remote_start", "change_availability"
    }  # fmt: skip
    assert operation_groups.ADMIN_OPERATIONS == {
        "install_certificate", "get_installed_certificate_ids", "delete_certificate",
        "certificate_signed",
    }  # fmt: skip
    assert operation_groups.title_of("get_configuration") == "Get configuration"
    assert operation_groups.title_of("no_such_thing") == "No such thing"
    assert operation_groups.help_of("no_such_thing") == ""
