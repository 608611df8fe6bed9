"""mptcp_info's run() through main(): the cases are in test_mptcp_info.yaml."""

from ansible_collections.mptcp.multipath.plugins.modules import mptcp_info


def test_mptcp_info(case, assert_case):
    assert_case(mptcp_info, case)
