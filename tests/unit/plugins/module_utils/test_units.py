"""_units: the limits unit's text, the unit facts, and whether a unit and
the kernel's limits are settled (mptcp_limits writes what the role's
mptcp_limits_settled filter compares: one text for both)."""

import os

import pytest

from ansible_collections.mptcp.multipath.plugins.module_utils._common import MptcpError
from ansible_collections.mptcp.multipath.plugins.module_utils._units import (
    check_service_name,
    checksum,
    file_facts,
    limits_settled,
    limits_unit_text,
    parse_unit_states,
    unit_changes,
    unit_settled,
)


def test_the_unit_runs_the_seeds_command_with_the_limits_in_sorted_order():
    text = limits_unit_text({"subflows": 2, "add_addr_accepted": 1})
    assert "\nExecStart=ip mptcp limits set add_addr_accepted 1 subflows 2\n" in text
    assert text == limits_unit_text({"add_addr_accepted": 1, "subflows": 2})
    # a oneshot that stays active once applied, at every boot after the network
    for line in ("Type=oneshot", "RemainAfterExit=yes", "After=network.target", "WantedBy=multi-user.target"):
        assert "\n%s\n" % line in text
    assert limits_unit_text({"subflows": 3}).count("ExecStart=ip mptcp limits set subflows 3\n") == 1


def test_file_facts_are_those_stat_gives(tmp_path):
    path = tmp_path / "x.service"
    assert file_facts(str(path)) == {"exists": False, "checksum": None, "mode": None, "owner": None}
    path.write_text("text\n")
    os.chmod(str(path), 0o600)
    facts = file_facts(str(path))
    assert facts["exists"] and facts["mode"] == "0600" and facts["checksum"] == checksum("text\n")


def test_unit_states_come_one_block_a_unit():
    text = "UnitFileState=enabled\nActiveState=active\n\nUnitFileState=\nActiveState=inactive\n"
    assert parse_unit_states(text, ["a.service", "b.service"]) == {
        "a.service": {"enabled": "enabled", "active": "active"},
        "b.service": {"enabled": None, "active": "inactive"}}
    assert parse_unit_states("", ["a.service"]) == {}


SETTLED = {"exists": True, "checksum": checksum(limits_unit_text({"subflows": 1})), "mode": "0644", "owner": "root",
           "enabled": "enabled", "active": "active"}


@pytest.mark.parametrize("change, settled", [
    ({}, True),
    ({"exists": False, "checksum": None}, False),
    ({"checksum": checksum("edited")}, False),
    ({"mode": "0600"}, False),
    ({"owner": "nobody"}, False),
    ({"enabled": "disabled"}, False),
    ({"active": "inactive"}, False),
    ({"active": "failed"}, False),
])
def test_a_unit_is_settled_only_when_every_fact_is_right(change, settled):
    assert unit_settled(dict(SETTLED, **change), limits_unit_text({"subflows": 1})) is settled


@pytest.mark.parametrize("change, wanted", [
    ({}, {"write": False, "enable": False, "start": False}),
    ({"exists": False, "checksum": None, "mode": None, "owner": None, "enabled": None, "active": None},
     {"write": True, "enable": True, "start": True}),
    ({"mode": "0600"}, {"write": True, "enable": False, "start": True}),  # rewritten, so started again
    ({"enabled": "disabled"}, {"write": False, "enable": True, "start": False}),
    ({"active": "failed"}, {"write": False, "enable": False, "start": True}),
])
def test_what_a_unit_needs_is_what_mptcp_limits_does(change, wanted):
    assert unit_changes(dict(SETTLED, **change), limits_unit_text({"subflows": 1})) == wanted


@pytest.mark.parametrize("kernel, unit, settled", [
    ({"subflows": 1, "add_addr_accepted": 0}, SETTLED, True),
    ({"subflows": 2, "add_addr_accepted": 0}, SETTLED, False),  # changed by hand since: the unit runs again
    ({"subflows": 1, "add_addr_accepted": 0}, dict(SETTLED, active="inactive"), False),
    ({"subflows": 1, "add_addr_accepted": 0}, None, True),  # only now: no unit to compare
    ({}, None, False),
])
def test_limits_are_settled_in_the_kernel_and_in_the_unit(kernel, unit, settled):
    assert limits_settled(kernel, {"subflows": 1}, unit) is settled


@pytest.mark.parametrize("unit, good", [
    ("set_mptcp_limit.service", True),
    ("mptcp-limits@host.service", True),
    ("mptcp-limits@link\\x2d1.service", True),  # systemd's escape of "-" in an instance name
    ("mptcp-limits@.service", False),  # a bare template
    ("../../tmp/evil.service", False),
    ("set_mptcp_limit", False),
    ("set_mptcp_limit.socket", False),
    ("", False),
    (None, False),
    ("a b.service", False),
])
def test_check_service_name(unit, good):
    if good:
        check_service_name(unit, "mptcp_limits_unit")
    else:
        with pytest.raises(MptcpError) as error:
            check_service_name(unit, "mptcp_limits_unit")
        assert "mptcp_limits_unit %r is not a systemd service name" % (unit,) in str(error.value)
