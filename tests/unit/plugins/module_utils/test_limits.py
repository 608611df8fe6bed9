import errno
import struct

import pytest

from ansible_collections.mptcp.multipath.plugins.module_utils import _limits
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


def limits_reply(subflows, add_addr_accepted):
    from ansible_collections.mptcp.multipath.plugins.module_utils._nlmsg import attribute
    return (_limits._GENL.pack(_limits.MPTCP_PM_CMD_GET_LIMITS, 1, 0)
            + attribute(_limits.MPTCP_PM_ATTR_RCV_ADD_ADDRS, struct.pack("=I", add_addr_accepted))
            + attribute(_limits.MPTCP_PM_ATTR_SUBFLOWS, struct.pack("=I", subflows)))


def test_parse_limits_reads_both_u32_attributes():
    assert _limits.parse_limits(limits_reply(3, 1)) == {"subflows": 3, "add_addr_accepted": 1}


class FakeGenl(object):
    """A generic netlink socket that answers the family request, then the limits request."""

    def __init__(self, answers):
        self.answers, self.sent = list(answers), []

    def sendto(self, data, address):
        self.sent.append(data)

    def recv(self, size):
        return self.answers.pop(0)

    def close(self):
        pass


def family_reply(family_id):
    from ansible_collections.mptcp.multipath.plugins.module_utils._nlmsg import attribute, message
    body = _limits._GENL.pack(1, 1, 0) + attribute(1, struct.pack("=H", family_id))
    return message(_limits.GENL_ID_CTRL, 0, 1, body)


def test_kernel_limits_resolves_the_family_then_reads_the_limits(monkeypatch):
    from ansible_collections.mptcp.multipath.plugins.module_utils._nlmsg import message
    fake = FakeGenl([family_reply(0x1c), message(0x1c, 0, 2, limits_reply(2, 0))])
    reader = object.__new__(_limits.KernelLimits)
    reader.sock = fake
    with reader:
        assert reader.limits() == {"subflows": 2, "add_addr_accepted": 0}
    # the second request went to the family the controller named, as GET_LIMITS
    kind = struct.unpack_from("=IH", fake.sent[1])[1]
    assert kind == 0x1c and fake.sent[1][16] == _limits.MPTCP_PM_CMD_GET_LIMITS


def test_kernel_limits_names_a_kernel_without_mptcp(monkeypatch):
    from ansible_collections.mptcp.multipath.plugins.module_utils._nlmsg import NLMSG_ERROR, message
    refused = message(NLMSG_ERROR, 0, 1, struct.pack("=i", -errno.ENOENT) + b"\0" * 16)
    reader = object.__new__(_limits.KernelLimits)
    reader.sock = FakeGenl([refused])
    with pytest.raises(MptcpError) as error:
        reader.limits()
    assert "generic netlink family mptcp_pm" in str(error.value) and "is MPTCP built into this kernel" in str(error.value)
