"""mptcp_limits's run() through main(): the cases are in test_mptcp_limits.yaml."""

from ansible_collections.mptcp.multipath.plugins.modules import mptcp_limits


def test_mptcp_limits(case, assert_case):
    assert_case(mptcp_limits, case)
