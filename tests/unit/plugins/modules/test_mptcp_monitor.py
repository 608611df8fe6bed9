"""mptcp_monitor's run() through main(): the cases are in test_mptcp_monitor.yaml."""

from ansible_collections.mptcp.multipath.plugins.modules import mptcp_monitor


def test_mptcp_monitor(case, assert_case):
    assert_case(mptcp_monitor, case)
