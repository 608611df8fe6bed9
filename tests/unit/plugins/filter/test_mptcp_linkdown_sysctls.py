"""The mptcp_linkdown_sysctls filter: _linkdown.plan (test_linkdown.py) as the role calls it."""

from ansible_collections.mptcp.multipath.plugins.filter.mptcp_linkdown_sysctls import FilterModule, mptcp_linkdown_sysctls
from ansible_collections.mptcp.multipath.plugins.module_utils._linkdown import plan


def test_the_filter_is_the_plan_with_none_taken_as_empty():
    assert FilterModule().filters() == {"mptcp_linkdown_sysctls": mptcp_linkdown_sysctls}
    assert mptcp_linkdown_sysctls(["link1"], None, None) == plan(["link1"], "", "")
    assert mptcp_linkdown_sysctls(None)["read"] == []
