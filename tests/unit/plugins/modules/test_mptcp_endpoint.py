"""mptcp_endpoint's run() through main(): the cases are in test_mptcp_endpoint.yaml."""

from ansible_collections.mptcp.multipath.plugins.modules import mptcp_endpoint


def test_mptcp_endpoint(case, assert_case):
    assert_case(mptcp_endpoint, case)
