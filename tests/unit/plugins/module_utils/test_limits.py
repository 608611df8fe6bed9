
import pytest

from ansible_collections.mptcp.multipath.plugins.module_utils._common import MptcpError
from ansible_collections.mptcp.multipath.plugins.module_utils._limits import (
    LIMIT_MAX,
    LIMIT_MIN,
    LIMIT_NAMES,
    check_limits,
)


def test_the_table_is_the_kernels():
    # net/mptcp/pm_kernel.c: MPTCP_PM_ADDR_MAX is 8 for both limits
    assert LIMIT_NAMES == ("subflows", "add_addr_accepted")
    assert (LIMIT_MIN, LIMIT_MAX) == (0, 8)


@pytest.mark.parametrize("value", [0, 8])
def test_the_range_ends_are_accepted(value):
    assert check_limits({"subflows": value, "add_addr_accepted": value}) == {
        "subflows": value, "add_addr_accepted": value}


@pytest.mark.parametrize("limits, message", [
    ({"subflows": 9}, "subflows=9 is out of range: MPTCP limits go from 0 to 8"),
    ({"add_addr_accepted": -1}, "add_addr_accepted=-1 is out of range"),
])
def test_bad_limits_are_named_with_their_value(limits, message):
    with pytest.raises(MptcpError) as error:
        check_limits(limits)
    assert message in str(error.value)


def test_a_name_prefixes_every_message():
    with pytest.raises(MptcpError) as error:
        check_limits({"subflows": 9}, "mptcp_limits")
    assert str(error.value).startswith("mptcp_limits.subflows=9 ")


def test_missing_and_null_limits_are_left_to_the_kernel():
    assert check_limits(None) == {}
    assert check_limits({"subflows": None, "add_addr_accepted": 1}) == {"add_addr_accepted": 1}
