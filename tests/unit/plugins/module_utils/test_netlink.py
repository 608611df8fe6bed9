"""_netlink against a fake pyroute2 MPTCP socket: what each call sends, how
the kernel's answers are read, and how its errors become messages."""

import errno
import socket
import struct

import pytest

from ansible_collections.mptcp.multipath.plugins.module_utils import _netlink
from ansible_collections.mptcp.multipath.plugins.module_utils._common import MptcpError

pytest.importorskip("pyroute2")
from pyroute2.netlink import NLM_F_ACK, NLM_F_REQUEST  # noqa: E402  (after the skip)
from pyroute2.netlink.exceptions import NetlinkError  # noqa: E402
from pyroute2.netlink.generic.mptcp import MPTCP_PM_CMD_SET_FLAGS, mptcp_msg  # noqa: E402

PM_ADDR_NAMES = set(name for name, _kind in mptcp_msg.pm_addr.nla_map)
INTERFACES = [(1, "lo"), (2, "eth0"), (3, "eth1")]


def decoded(msg):
    """A message as the kernel would receive it: encoded, then read back."""
    msg.encode()
    copy = mptcp_msg(msg.data)
    copy.decode()
    return copy


def endpoint_message(**attrs):
    """One answer of ``endpoint("show")`` as pyroute2 hands it over."""
    msg = mptcp_msg()
    msg["cmd"] = 1
    msg["attrs"] = [("MPTCP_PM_ATTR_ADDR", {"attrs": [("MPTCP_PM_ADDR_ATTR_" + name.upper(), value)
                                                      for name, value in attrs.items()]}, 0x8000)]
    return decoded(msg)


class FakeMPTCP(object):
    """pyroute2's MPTCP socket: records every call; ``fail`` maps a call
    ("endpoint add", "limits set", "nlm_request") to the NetlinkError it raises."""

    prid = 0x1c

    def __init__(self, endpoints=(), limits=None, fail=None):
        self.calls = []
        self.shown = list(endpoints)
        self.shown_limits = limits
        self.fail = fail or {}
        self.closed = False

    def _call(self, name, *args, **kwargs):
        self.calls.append((name,) + args + ((kwargs,) if kwargs else ()))
        if name in self.fail:
            raise self.fail[name]

    def endpoint(self, cmd, **attrs):
        self._call("endpoint " + cmd, **attrs)
        return self.shown if cmd == "show" else []

    def limits(self, cmd, **attrs):
        self._call("limits " + cmd, **attrs)
        return [self.shown_limits] if cmd == "show" else []

    def nlm_request(self, msg, msg_type, msg_flags):
        self._call("nlm_request", msg, msg_type, msg_flags)
        return []

    def close(self):
        self.closed = True


@pytest.fixture
def kernel(monkeypatch):
    """An MptcpNetlink on a FakeMPTCP (``kernel.sock``), in a namespace with INTERFACES."""
    monkeypatch.setattr(_netlink.socket, "if_nameindex", lambda: list(INTERFACES))

    def make(**fake):
        sock = FakeMPTCP(**fake)
        monkeypatch.setattr(_netlink, "MPTCP", lambda: sock)
        return _netlink.MptcpNetlink()
    return make


def test_add_endpoint_sends_the_address_flags_id_port_and_packed_ifindex(kernel):
    with kernel() as nl:
        nl.add_endpoint("192.0.2.1", endpoint_id=4, port=8080, flags=["signal", "backup"], ifindex=3)
        nl.add_endpoint("2001:DB8::1", flags=["subflow"])
    assert nl.sock.closed
    assert nl.sock.calls == [
        ("endpoint add", {"family": socket.AF_INET, "addr4": "192.0.2.1", "flags": 0x1 | 0x4, "id": 4,
                          "port": 8080, "if_idx": struct.pack("=i", 3)}),
        ("endpoint add", {"family": socket.AF_INET6, "addr6": "2001:db8::1", "flags": 0x2}),
    ]
    # pyroute2 turns each keyword into the MPTCP_PM_ADDR_ATTR_ of that name: all of them must exist
    for _name, attrs in nl.sock.calls:
        assert set("MPTCP_PM_ADDR_ATTR_" + key.upper() for key in attrs) <= PM_ADDR_NAMES


def test_set_endpoint_flags_builds_the_set_flags_message(kernel):
    with kernel() as nl:
        nl.set_endpoint_flags(2, "198.51.100.1", ["subflow", "backup"])
    ((name, msg, msg_type, msg_flags),) = nl.sock.calls
    assert (name, msg_type, msg_flags) == ("nlm_request", FakeMPTCP.prid, NLM_F_REQUEST | NLM_F_ACK)
    sent = decoded(msg)
    assert (sent["cmd"], sent["version"]) == (MPTCP_PM_CMD_SET_FLAGS, 1)
    assert dict(sent.get_attr("MPTCP_PM_ATTR_ADDR")["attrs"]) == {
        "MPTCP_PM_ADDR_ATTR_FAMILY": socket.AF_INET, "MPTCP_PM_ADDR_ATTR_ADDR4": "198.51.100.1",
        "MPTCP_PM_ADDR_ATTR_ID": 2, "MPTCP_PM_ADDR_ATTR_FLAGS": 0x2 | 0x4}
    # the address attribute is nested (NLA_F_NESTED), as the kernel's policy wants
    nla_type = struct.unpack_from("=H", msg.data, 16 + 4 + 2)[0]
    assert nla_type & 0x8000


def test_set_endpoint_flags_of_an_ipv6_endpoint(kernel):
    with kernel() as nl:
        nl.set_endpoint_flags(5, "2001:db8::2", [])
    attrs = dict(decoded(nl.sock.calls[0][1]).get_attr("MPTCP_PM_ATTR_ADDR")["attrs"])
    assert attrs["MPTCP_PM_ADDR_ATTR_FAMILY"] == socket.AF_INET6
    assert attrs["MPTCP_PM_ADDR_ATTR_ADDR6"] == "2001:db8::2"
    assert attrs["MPTCP_PM_ADDR_ATTR_FLAGS"] == 0


def test_set_limits_sends_only_the_limits_given(kernel):
    with kernel() as nl:
        nl.set_limits(subflows=2, add_addr_accepted=None)
        nl.set_limits(subflows=None, add_addr_accepted=None)
        nl.set_limits(subflows=8, add_addr_accepted=1)
    assert nl.sock.calls == [("limits set", {"subflows": 2}),
                             ("limits set", {"subflows": 8, "add_addr_accepted": 1})]


def test_limits_reads_both(kernel):
    msg = mptcp_msg()
    msg["cmd"] = 3
    msg["attrs"] = [("MPTCP_PM_ATTR_SUBFLOWS", 2), ("MPTCP_PM_ATTR_RCV_ADD_ADDRS", 1)]
    with kernel(limits=decoded(msg)) as nl:
        assert nl.limits() == {"subflows": 2, "add_addr_accepted": 1}
    assert nl.sock.calls == [("limits show",)]


def test_endpoints_are_read_sorted_with_names_of_their_interfaces(kernel):
    shown = [
        endpoint_message(family=socket.AF_INET6, addr6="2001:db8::1", id=7, flags=0x2),
        endpoint_message(family=socket.AF_INET, addr4="192.0.2.1", id=1, flags=0x1 | 0x2, port=8080,
                         if_idx=struct.pack("=i", 2)),
        endpoint_message(family=socket.AF_INET, addr4="203.0.113.9", id=3, flags=0x10 | 0x100),
    ]
    with kernel(endpoints=shown) as nl:
        assert nl.endpoints() == [
            {"id": 1, "address": "192.0.2.1", "port": 8080, "flags": ["signal", "subflow"], "ifindex": 2,
             "dev": "eth0"},
            {"id": 3, "address": "203.0.113.9", "port": 0, "flags": ["implicit", "0x100"], "ifindex": 0,
             "dev": None},
            {"id": 7, "address": "2001:db8::1", "port": 0, "flags": ["subflow"], "ifindex": 0, "dev": None},
        ]


@pytest.mark.parametrize("value, index", [
    (None, 0), (3, 3), ("03:00:00:00", 3), (struct.pack("=i", 12), 12), (bytearray(struct.pack("=i", 5)), 5),
])
def test_decode_ifindex_takes_every_form_pyroute2_gives(value, index):
    assert _netlink._decode_ifindex(value) == index


def test_apply_carries_out_a_plan_in_order(kernel):
    endpoint = {"id": 2, "address": "198.51.100.1", "port": 0, "flags": ["signal"], "dev": "eth1", "ifindex": 3}
    with kernel() as nl:
        nl.apply([
            {"action": "delete", "endpoint": dict(endpoint, id=9)},
            {"action": "set_flags", "endpoint": dict(endpoint, id=4, flags=["subflow", "backup"])},
            {"action": "add", "endpoint": endpoint},
        ])
    assert [call[0] for call in nl.sock.calls] == ["endpoint del", "nlm_request", "endpoint add"]
    assert nl.sock.calls[0][1] == {"id": 9}
    assert nl.sock.calls[2][1] == {"family": socket.AF_INET, "addr4": "198.51.100.1", "flags": 0x1, "id": 2,
                                   "if_idx": struct.pack("=i", 3)}


@pytest.mark.parametrize("code, text", [
    (errno.EPERM, "permission denied: changing MPTCP settings needs CAP_NET_ADMIN (run the task with become)"),
    (errno.ERANGE, "the kernel allows at most 8 endpoints per network namespace"),
    (errno.EADDRNOTAVAIL,
     "the address is not configured on this host (a signal endpoint with a port must use a local address)"),
    (errno.EEXIST, "EEXIST (errno 17: File exists)"),
    (4242, "E? (errno 4242: Unknown error 4242)"),
])
def test_netlink_errors_become_messages_that_say_what_was_done(kernel, code, text):
    with kernel(fail={"endpoint add": NetlinkError(code)}) as nl:
        with pytest.raises(MptcpError) as error:
            nl.add_endpoint("192.0.2.1", flags=["signal"])
    assert str(error.value) == "kernel refused to add endpoint 192.0.2.1: " + text
    assert error.value.details == {"errno": code}


def test_an_oserror_without_a_code_attribute_is_read_from_its_args():
    assert _netlink._netlink_error_text(OSError(errno.EPERM, "Operation not permitted"))[0] == errno.EPERM
    assert _netlink._netlink_error_text(OSError(errno.ENOENT)) == (errno.ENOENT, "ENOENT (errno 2)")


@pytest.mark.parametrize("call, fail, message", [
    (lambda nl: nl.delete_endpoint(4), "endpoint del", "kernel refused to delete endpoint id 4: EINVAL"),
    (lambda nl: nl.set_endpoint_flags(4, "192.0.2.1", ["backup"]), "nlm_request",
     "kernel refused to change flags of endpoint id 4: EINVAL"),
    (lambda nl: nl.set_limits(subflows=9, add_addr_accepted=0), "limits set",
     "kernel refused to set limits add_addr_accepted=0, subflows=9: EINVAL"),
    (lambda nl: nl.limits(), "limits show", "kernel refused to read limits: EINVAL"),
    (lambda nl: nl.endpoints(), "endpoint show", "kernel refused to list endpoints: EINVAL"),
])
def test_each_call_names_itself_when_refused(kernel, call, fail, message):
    with kernel(fail={fail: NetlinkError(errno.EINVAL)}) as nl:
        with pytest.raises(MptcpError) as error:
            call(nl)
    assert str(error.value).startswith(message + " (errno 22")


def test_no_mptcp_in_the_kernel_is_refused(monkeypatch):
    def no_family():
        raise NetlinkError(errno.ENOENT)
    monkeypatch.setattr(_netlink, "MPTCP", no_family)
    with pytest.raises(MptcpError) as error:
        _netlink.MptcpNetlink()
    assert str(error.value).startswith("cannot open the kernel's MPTCP path manager (generic netlink family "
                                       "mptcp_pm); is MPTCP built into this kernel? (")


def test_an_unsupported_pyroute2_is_refused_before_any_socket(monkeypatch):
    monkeypatch.setattr(_netlink, "PYROUTE2_UNSUPPORTED", "pyroute2 0.5.14 of /usr/bin/python3 on this host ...")
    monkeypatch.setattr(_netlink, "MPTCP", lambda: pytest.fail("no socket may be opened"))
    with pytest.raises(MptcpError, match="pyroute2 0.5.14 of /usr/bin/python3"):
        _netlink.MptcpNetlink()


class Message(dict):
    """An rtnetlink message as pyroute2's IPRoute returns it."""

    def __init__(self, fields, attrs):
        super(Message, self).__init__(fields)
        self.attrs = attrs

    def get_attr(self, name):
        return self.attrs.get(name)


class FakeIPRoute(object):
    links = [Message({"index": 1}, {"IFLA_IFNAME": "lo", "IFLA_OPERSTATE": "UNKNOWN"}),
             Message({"index": 2}, {"IFLA_IFNAME": "eth0", "IFLA_OPERSTATE": "UP"}),
             Message({"index": 3}, {"IFLA_IFNAME": "eth1", "IFLA_OPERSTATE": "DOWN"})]
    addresses = [
        Message({"index": 1, "flags": 0}, {"IFA_ADDRESS": "127.0.0.1", "IFA_LOCAL": "127.0.0.1"}),
        Message({"index": 2, "flags": 0}, {"IFA_ADDRESS": "192.0.2.1", "IFA_LOCAL": "192.0.2.1"}),
        # a point-to-point address: IFA_LOCAL is this side
        Message({"index": 2, "flags": 0}, {"IFA_ADDRESS": "10.9.9.2", "IFA_LOCAL": "10.9.9.1"}),
        Message({"index": 2, "flags": 0}, {"IFA_ADDRESS": "2001:DB8::1", "IFA_FLAGS": 0}),
        Message({"index": 2, "flags": 0}, {"IFA_ADDRESS": "2001:db8::2", "IFA_FLAGS": 0x40}),  # tentative
        Message({"index": 2, "flags": 0x08}, {"IFA_ADDRESS": "2001:db8::3"}),  # failed duplicate detection
        Message({"index": 3, "flags": 0}, {"IFA_ADDRESS": "198.51.100.1", "IFA_LOCAL": "198.51.100.1"}),  # link down
    ]

    def __init__(self):
        self.closed = False
        FakeIPRoute.last = self

    def get_links(self):
        return self.links

    def get_addr(self):
        return self.addresses

    def close(self):
        self.closed = True


def test_usable_addresses_are_those_on_links_that_are_up_and_not_tentative(monkeypatch):
    monkeypatch.setattr(_netlink, "IPRoute", FakeIPRoute)
    assert _netlink.usable_addresses() == {"127.0.0.1": {"lo"}, "192.0.2.1": {"eth0"}, "10.9.9.1": {"eth0"},
                                           "2001:db8::1": {"eth0"}}
    assert FakeIPRoute.last.closed
