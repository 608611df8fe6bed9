"""The mptcp_limits_settled filter: _units.limits_settled (test_units.py)
on what mptcp_preflight registered, as the role calls it."""

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.mptcp.multipath.plugins.filter.mptcp_limits_settled import FilterModule, mptcp_limits_settled
from ansible_collections.mptcp.multipath.plugins.module_utils._units import checksum, limits_unit_text

SETTLED = {"exists": True, "checksum": checksum(limits_unit_text({"subflows": 1})), "mode": "0644", "owner": "root",
           "enabled": "enabled", "active": "active"}


def test_the_filter_compares_what_preflight_read():
    preflight = {"kernel_limits": {"subflows": 1, "add_addr_accepted": 0}, "units": {"set_mptcp_limit.service": SETTLED}}
    assert FilterModule().filters() == {"mptcp_limits_settled": mptcp_limits_settled}
    assert mptcp_limits_settled(preflight, {"subflows": 1}, unit="set_mptcp_limit.service") is True
    assert mptcp_limits_settled(preflight, {"subflows": 1}) is True
    assert mptcp_limits_settled(preflight, {"subflows": 2}) is False
    # a unit preflight was not asked about is never taken as settled
    assert mptcp_limits_settled(preflight, {"subflows": 1}, unit="other.service") is False
    with pytest.raises(AnsibleFilterError, match="registered result of mptcp.multipath.mptcp_preflight"):
        mptcp_limits_settled({"changed": False}, {"subflows": 1})
