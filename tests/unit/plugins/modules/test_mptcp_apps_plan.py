"""mptcp_apps_plan's run() through main(): the cases are in test_mptcp_apps_plan.yaml."""

from ansible_collections.mptcp.multipath.plugins.modules import mptcp_apps_plan


def test_mptcp_apps_plan(case, assert_case):
    assert_case(mptcp_apps_plan, case)
