"""mptcp_nm_profile's run() through main(): the cases are in test_mptcp_nm_profile.yaml."""

from ansible_collections.mptcp.multipath.plugins.modules import mptcp_nm_profile


def test_mptcp_nm_profile(case, assert_case):
    assert_case(mptcp_nm_profile, case)
