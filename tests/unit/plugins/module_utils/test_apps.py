import re

import pytest

from ansible_collections.mptcp.multipath.plugins.module_utils._apps import (
    check_dropin_name,
    check_unit_names,
    library_from_file_list,
    owns,
    parse_systemctl_show,
    parse_systemd_version,
    plan,
    unit_of_dropin,
)
from ansible_collections.mptcp.multipath.plugins.module_utils._common import MptcpError

MARKER = "mptcp.multipath.mptcp_apps owns this file"
SHOW = """Id=iperf3.service
LoadState=loaded
ActiveState=active
Triggers=

Id=echo.socket
LoadState=loaded
ActiveState=active
Triggers=echo@1.service echo@2.service

Id=old.service
LoadState=loaded
ActiveState=inactive
Triggers=

Id=nope.service
LoadState=not-found
ActiveState=inactive
Triggers=
"""


def test_parse_systemctl_show_one_block_per_unit():
    units = parse_systemctl_show(SHOW)
    assert sorted(units) == ["echo.socket", "iperf3.service", "nope.service", "old.service"]
    assert units["echo.socket"]["Triggers"] == "echo@1.service echo@2.service"


def test_plan_wanted_stale_running_and_triggers():
    result = plan(["iperf3.service", "echo.socket", "iperf3.service"], "present", ["old.service", "iperf3.service"],
                  parse_systemctl_show(SHOW))
    assert result["units"] == ["iperf3.service", "echo.socket"]
    assert result["stale"] == ["old.service"]
    assert result["running"] == ["iperf3.service", "echo.socket"]  # old.service is stopped
    assert result["triggers"] == {"echo.socket": ["echo@1.service", "echo@2.service"]}
    assert result["services"] == ["iperf3.service"] and result["sockets"] == ["echo.socket"]


def test_plan_absent_removes_every_owned_drop_in_and_restart_false_restarts_nothing():
    result = plan(["iperf3.service"], "absent", ["iperf3.service", "old.service"], parse_systemctl_show(SHOW),
                  restart=False)
    assert result["units"] == [] and result["stale"] == ["iperf3.service", "old.service"]
    assert result["running"] == []


def test_plan_refuses_units_systemd_does_not_know():
    with pytest.raises(MptcpError, match=r"units in mptcp_apps_units: nope.service, gone.service "
                                         r"\(LoadState not-found, \?\)"):
        plan(["iperf3.service", "nope.service", "gone.service"], "present", [], parse_systemctl_show(SHOW))


@pytest.mark.parametrize("units", [["iperf3"], ["foo@.service"], [""], ["a b.service"], ["x.timer"]])
def test_malformed_unit_names_are_refused_by_name(units):
    with pytest.raises(MptcpError, match="mptcp_apps_units must name .service or .socket units.*refused: %s$"
                       % re.escape(units[0] or "''")):
        check_unit_names(units)


GOOD_UNITS = ["iperf3.service", "getty@tty1.service", "echo.socket", "dbus-org.x_y:z.service",
              "sys-devices-x\\x2dy.service"]


def test_good_unit_names_pass():
    assert check_unit_names(GOOD_UNITS) is None
    # beside a bad name, only the bad one is refused: the rule accepts every good one
    with pytest.raises(MptcpError) as error:
        check_unit_names(GOOD_UNITS + ["foo@.service"])
    assert str(error.value).endswith("refused: foo@.service")


def test_drop_in_paths_markers_versions_and_file_lists():
    assert unit_of_dropin("/etc/systemd/system/iperf3.service.d/50-mptcp.conf") == "iperf3.service"
    assert owns("# Ansible managed\n# %s: it is removed when ...\n" % MARKER, MARKER)
    assert not owns("# someone else's file mentions # %s\n" % MARKER, MARKER)
    assert parse_systemd_version("systemd 257 (257.13-1)\n+PAM +AUDIT") == 257
    with pytest.raises(MptcpError, match="cannot tell the systemd version"):
        parse_systemd_version("bash: systemctl: not found")
    listing = "/.\n/usr/lib/x86_64-linux-gnu/mptcpize\n/usr/lib/x86_64-linux-gnu/mptcpize/libmptcpwrap.so.0\n"
    assert library_from_file_list(listing) == "/usr/lib/x86_64-linux-gnu/mptcpize/libmptcpwrap.so.0"
    assert library_from_file_list("") is None


@pytest.mark.parametrize("name", ["../evil.conf", "a/b.conf", ".hidden.conf", "50-mptcp", "", "x.conf.bak"])
def test_bad_drop_in_names_are_refused_by_name(name):
    with pytest.raises(MptcpError, match="mptcp_apps_dropin_name must be a file name ending in .conf"):
        check_dropin_name(name)


@pytest.mark.parametrize("name", ["50-mptcp.conf", "zz_mptcp@v2.conf", "mptcp.conf", "a+b:c.conf"])
def test_good_drop_in_names_pass(name):
    assert check_dropin_name(name) is None  # returns, refusing nothing
