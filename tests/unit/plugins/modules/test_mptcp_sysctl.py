"""mptcp_sysctl's run() through main(): the cases are in test_mptcp_sysctl.yaml."""

from ansible_collections.mptcp.multipath.plugins.modules import mptcp_sysctl


def test_mptcp_sysctl(case, assert_case):
    assert_case(mptcp_sysctl, case)
