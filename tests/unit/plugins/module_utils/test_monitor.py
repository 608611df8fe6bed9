import errno
import socket
import struct

import pytest

from ansible_collections.mptcp.multipath.plugins.module_utils import _genl, _monitor
from ansible_collections.mptcp.multipath.plugins.module_utils._common import MptcpError

NAMES = {3: "wlp1s0"}


def attr(kind, payload):
    data = struct.pack("=HH", 4 + len(payload), kind) + payload
    return data + b"\0" * (-len(data) % 4)


def u8(kind, value):
    return attr(kind, struct.pack("=B", value))


def u16(kind, value):
    return attr(kind, struct.pack("=H", value))


def u32(kind, value):
    return attr(kind, struct.pack("=I", value))


def be16(kind, value):
    return attr(kind, struct.pack("!H", value))


def ipv4(kind, address):
    return attr(kind, socket.inet_pton(socket.AF_INET, address))


def ipv6(kind, address):
    return attr(kind, socket.inet_pton(socket.AF_INET6, address))


def decode(command, *attributes):
    return _monitor.decode_event(command, b"".join(attributes), timestamp=12.5, interface_name=NAMES.get)


def message(family_id, command, *attributes):
    body = struct.pack("=BBH", command, 1, 0) + b"".join(attributes)
    return struct.pack("=IHHII", 16 + len(body), family_id, 0, 0, 0) + body


# -- decoding ------------------------------------------------------------------
def test_numbers_match_the_kernel_headers():
    assert _monitor.EVENT_TYPES == {1: "created", 2: "established", 3: "closed", 6: "announced", 7: "removed",
                                    10: "sf_established", 11: "sf_closed", 13: "sf_priority",
                                    15: "listener_created", 16: "listener_closed"}
    assert (_monitor.ATTR_TOKEN, _monitor.ATTR_SADDR4, _monitor.ATTR_DPORT, _monitor.ATTR_IF_IDX,
            _monitor.ATTR_SERVER_SIDE) == (1, 5, 10, 15, 18)


def test_sf_established_ipv4_like_the_seed():
    event = decode(10, u32(1, 0x63c070d2), u16(2, socket.AF_INET), u8(3, 2), u8(4, 0),
                   ipv4(5, "192.0.2.3"), ipv4(7, "192.0.2.1"), be16(9, 53345), be16(10, 12345),
                   u8(11, 0), attr(15, struct.pack("=i", 3)))
    assert event == dict(_monitor.empty_event("sf_established"), timestamp=12.5, token="63c070d2", family="ipv4",
                         local_id=2, remote_id=0, saddr="192.0.2.3", daddr="192.0.2.1", sport=53345,
                         dport=12345, backup=False, ifindex=3, dev="wlp1s0")
    assert set(event) == set(_monitor.EVENT_KEYS)
    assert _monitor.describe_event(event) == (
        "SF_ESTABLISHED token=63c070d2 local_id=2 remote_id=0 saddr=192.0.2.3 daddr=192.0.2.1 "
        "sport=53345 dport=12345 backup=0 dev=wlp1s0")


def test_ipv6_addresses_and_every_other_attribute():
    event = decode(11, u32(1, 0xdeadbeef), u16(2, socket.AF_INET6), ipv6(6, "2001:db8::2"),
                   ipv6(8, "2001:DB8::1"), u8(11, 1), u8(12, 104), u16(13, 1), u32(14, 120),
                   attr(15, struct.pack("=i", 7)), u32(16, 3), u32(17, 1), u8(18, 1))
    assert event["type"] == "sf_closed" and event["family"] == "ipv6"
    assert event["saddr"] == "2001:db8::2" and event["daddr"] == "2001:db8::1"
    assert event["backup"] is True and event["error"] == 104 and event["flags"] == 1
    assert event["deny_join_id0"] is True and event["timeout"] == 120
    assert event["ifindex"] == 7 and event["dev"] is None  # no such interface
    assert event["reset_reason"] == 3 and event["reset_flags"] == 1 and event["server_side"] is True


def test_created_without_side_attribute_is_client_side_and_flag_means_server():
    client = decode(1, u32(1, 1), ipv4(5, "192.0.2.2"), ipv4(7, "192.0.2.1"))
    assert client["server_side"] is False and client["deny_join_id0"] is False and client["family"] == "ipv4"
    server = decode(2, u32(1, 2), u16(13, _monitor.MPTCP_PM_EV_FLAG_SERVER_SIDE))
    assert server["server_side"] is True and server["deny_join_id0"] is False
    closed = decode(3, u32(1, 0x1))
    assert closed["token"] == "00000001" and closed["server_side"] is None and closed["family"] is None


def test_listener_and_unknown_events_and_odd_attributes():
    listener = decode(15, u16(2, socket.AF_INET), ipv4(5, "0.0.0.0"), be16(9, 5201))
    assert listener["type"] == "listener_created" and listener["sport"] == 5201 and listener["token"] is None
    odd = decode(99, attr(0x8000 | 1, struct.pack("=I", 5)), attr(40, b"xyz"), b"\x02\x00")
    assert odd["type"] == "event_99" and odd["token"] == "00000005"  # NLA_F_NESTED bit ignored


# -- conditions ------------------------------------------------------------------
def sf(**values):
    return dict(_monitor.empty_event("sf_established"), token="63c070d2", local_id=2, saddr="192.0.2.3",
                daddr="192.0.2.1", sport=53345, dport=12345, backup=False, ifindex=3, dev="wlp1s0", **values)


@pytest.mark.parametrize("condition, expected", [
    ({"event": "sf_established"}, True),
    ({"event": "sf_established", "local_id": 2, "saddr": "192.0.2.3"}, True),
    ({"event": "sf_established", "local_id": 3}, False),
    ({"event": "sf_closed", "local_id": 2}, False),
    ({"event": "sf_established", "token": "0x63C070D2", "dev": "wlp1s0", "backup": False}, True),
    ({"event": "sf_established", "daddr": "192.0.2.9"}, False),
    ({"event": "sf_established", "server_side": False}, True),
    ({"event": "sf_established", "family": "ipv6"}, False),
])
def test_matches(condition, expected):
    assert _monitor.matches(sf(), _monitor.normalize_condition(condition)) is expected


def test_normalize_condition_canonical_and_ignores_unset():
    condition = _monitor.normalize_condition({"event": "sf_established", "saddr": " 2001:DB8::3 ", "token": "1f",
                                              "local_id": None, "dev": None})
    assert condition == {"event": "sf_established", "saddr": "2001:db8::3", "token": "0000001f"}
    assert _monitor.describe_condition(condition) == "event=sf_established saddr=2001:db8::3 token=0000001f"


@pytest.mark.parametrize("condition, message", [
    ({"event": "created", "saddr": "192.0.2.300"}, "until.saddr: '192.0.2.300' is not an IPv4 or IPv6 address"),
    ({"event": "created", "token": "xyz"}, "until.token: 'xyz' is not a connection token"),
    ({"event": "created", "local_id": -1}, "until.local_id: -1 is below zero"),
])
def test_bad_conditions_are_refused(condition, message):
    with pytest.raises(MptcpError) as error:
        _monitor.normalize_condition(condition)
    assert message in str(error.value)


def params(**values):
    base = {"timeout": 10.0, "until": None, "events": None, "max_events": None}
    base.update(values)
    return base


@pytest.mark.parametrize("values, message", [
    ({"timeout": 0}, "timeout: 0 is not a positive number"),
    ({"timeout": -2.5}, "timeout: -2.5 is not a positive number"),
    ({"max_events": 0}, "max_events: 0 is not a positive integer"),
    ({"events": []}, "events: an empty list"),
    ({"until": {"event": "created", "sport": -1}}, "until.sport: -1 is below zero"),
])
def test_bad_params_are_refused(values, message):
    with pytest.raises(MptcpError) as error:
        _monitor.normalize_params(params(**values))
    assert message in str(error.value)


def test_good_params():
    assert _monitor.normalize_params(params(timeout=3, events=["closed", "created", "closed"], max_events=2)) == {
        "timeout": 3.0, "until": None, "events": ["closed", "created"], "max_events": 2}


# -- the listening loop ---------------------------------------------------------
class FakeClock(object):
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


class FakeSource(object):
    """Hands out prepared batches; each read takes one second of the fake clock."""

    def __init__(self, clock, batches, overrun_at=None):
        self.clock, self.batches, self.overrun_at, self.reads = clock, list(batches), overrun_at, 0

    def receive(self, timeout):
        assert timeout > 0
        self.reads += 1
        step = min(1.0, timeout)
        self.clock.now += step
        if self.reads == self.overrun_at:
            return [], True
        return (self.batches.pop(0) if self.batches else []), False


def lifecycle():
    created = dict(_monitor.empty_event("created"), token="63c070d2", server_side=False)
    established = dict(_monitor.empty_event("established"), token="63c070d2", server_side=False)
    closed = dict(_monitor.empty_event("closed"), token="63c070d2")
    return [[created, established], [], [sf()], [sf(type="sf_closed")], [closed]]


def test_monitor_until_returns_the_match_at_once():
    clock = FakeClock()
    source = FakeSource(clock, lifecycle())
    result = _monitor.monitor(source, 30, until=_monitor.normalize_condition({"event": "sf_established", "local_id": 2}),
                              clock=clock)
    assert result["stopped"] == "until" and result["matched"]["saddr"] == "192.0.2.3"
    assert [event["type"] for event in result["events"]] == ["created", "established", "sf_established"]
    assert result["elapsed"] == 3.0 and result["changed"] is False and source.reads == 3


def test_monitor_without_until_listens_the_whole_window_and_filters():
    clock = FakeClock()
    result = _monitor.monitor(FakeSource(clock, lifecycle()), 8, events=["sf_established", "sf_closed"], clock=clock)
    assert result["stopped"] == "timeout" and "matched" not in result and result["elapsed"] == 8.0
    assert [event["type"] for event in result["events"]] == ["sf_established", "sf_closed"]


def test_monitor_max_events():
    clock = FakeClock()
    result = _monitor.monitor(FakeSource(clock, lifecycle()), 30, max_events=1, clock=clock)
    assert result["stopped"] == "max_events" and len(result["events"]) == 1 and result["elapsed"] == 1.0


def test_monitor_until_that_never_comes_fails_with_the_events_seen():
    clock = FakeClock()
    until = _monitor.normalize_condition({"event": "sf_established", "saddr": "198.51.100.2"})
    with pytest.raises(MptcpError) as error:
        _monitor.monitor(FakeSource(clock, lifecycle()), 2.5, until=until, events=["established"], clock=clock)
    text = str(error.value)
    assert text.startswith("no MPTCP event matched until (event=sf_established saddr=198.51.100.2) "
                           "before 2.5 seconds passed; events seen: ESTABLISHED token=63c070d2 server_side=0")
    assert "(and 2 event(s) not kept because of events)" in text
    assert error.value.details["matched"] is None and error.value.details["stopped"] == "timeout"
    assert error.value.details["elapsed"] == 2.5 and len(error.value.details["events"]) == 1
    assert "changed" not in error.value.details


def test_monitor_until_with_max_events_first_fails():
    clock = FakeClock()
    with pytest.raises(MptcpError) as error:
        _monitor.monitor(FakeSource(clock, lifecycle()), 30, until=_monitor.normalize_condition({"event": "closed"}),
                         max_events=2, clock=clock)
    assert "before max_events=2 events were kept" in str(error.value)


def test_monitor_warns_about_an_overrun():
    clock = FakeClock()
    result = _monitor.monitor(FakeSource(clock, lifecycle(), overrun_at=2), 3, clock=clock)
    assert "dropped MPTCP events" in result["warnings"][0]


def test_an_integer_of_no_integer_size_is_none():
    assert decode(11, u32(1, 1), attr(12, b"\x01\x02\x03"))["error"] is None


def test_interface_names_come_from_this_namespace():
    # the loopback is index 1 in every network namespace; no interface has the largest index
    assert _monitor._interface_name(1) == "lo"
    assert _monitor._interface_name(2 ** 31 - 1) is None


# -- the event socket, through a fake generic netlink socket -----------------------
def family_reply(groups):
    nested = b"".join(attr(0x8000 | number, attr(1, name.encode() + b"\0") + u32(2, group))
                      for number, (name, group) in enumerate(sorted(groups.items()), 1))
    payload = struct.pack("=BBH", 1, 2, 0) + attr(2, b"mptcp_pm\0") + u16(1, 28) + attr(0x8000 | 7, nested)
    return struct.pack("=IHHII", 16 + len(payload), _genl.GENL_ID_CTRL, 0, 1, 0) + payload


def netlink_error(code):
    payload = struct.pack("=i", -code) + b"\0" * 16
    return struct.pack("=IHHII", 16 + len(payload), 2, 0, 1, 0) + payload


class FakeGenlSocket(object):
    """A NETLINK_GENERIC socket: recv() answers from ``reads`` in order (an
    exception is raised); ``failures`` may make opening it ("open") or
    joining the group ("membership") fail."""

    failures = {}
    reads = []
    made = []

    def __init__(self, family, kind, protocol):
        if "open" in FakeGenlSocket.failures:
            raise FakeGenlSocket.failures["open"]
        assert (family, kind, protocol) == (socket.AF_NETLINK, socket.SOCK_RAW, _genl.NETLINK_GENERIC)
        self.options, self.sent, self.timeouts, self.closed = [], [], [], False
        FakeGenlSocket.made.append(self)

    def setsockopt(self, level, option, value):
        if level == _genl.SOL_NETLINK and "membership" in FakeGenlSocket.failures:
            raise FakeGenlSocket.failures["membership"]
        self.options.append((level, option, value))

    def bind(self, address):
        assert address == (0, 0)

    def sendto(self, data, address):
        self.sent.append(data)

    def settimeout(self, seconds):
        self.timeouts.append(seconds)

    def recv(self, size):
        read = FakeGenlSocket.reads.pop(0)
        if isinstance(read, BaseException):
            raise read
        return read

    def close(self):
        self.closed = True


@pytest.fixture
def genl(monkeypatch):
    FakeGenlSocket.failures, FakeGenlSocket.reads, FakeGenlSocket.made = {}, [], []
    monkeypatch.setattr(_monitor.socket, "socket", FakeGenlSocket)
    return FakeGenlSocket


def test_the_event_socket_joins_the_events_group_and_reads_its_family_only(genl):
    genl.reads = [family_reply({"mptcp_pm_cmds": 10, "mptcp_pm_events": 9}),
                  message(28, 10, u32(1, 0x63c070d2), be16(10, 12345)) + message(29, 10, u32(1, 1)),
                  socket.timeout("timed out"), OSError(errno.ENOBUFS, "No buffer space available"),
                  OSError(errno.EINTR, "Interrupted system call")]
    with _monitor.EventSocket() as events:
        assert events.family_id == 28
        sock = genl.made[0]
        assert sock.sent == [_genl.family_request("mptcp_pm")]
        assert (_genl.SOL_NETLINK, _genl.NETLINK_ADD_MEMBERSHIP, 9) in sock.options
        assert sock.timeouts == [5, None]  # the controller's answer is waited for, then no timeout
        received, overrun = events.receive(1.5)
        assert [(event["type"], event["token"], event["dport"]) for event in received] == [
            ("sf_established", "63c070d2", 12345)]
        assert overrun is False
        assert events.receive(0) == ([], False)
        assert sock.timeouts[-1] == 0.001  # never a blocking read
        assert events.receive(1) == ([], True)  # the kernel dropped events
        assert events.receive(1) == ([], False)
    assert sock.closed


def test_a_failing_read_is_an_error_with_its_reason(genl):
    genl.reads = [family_reply({"mptcp_pm_events": 9}), OSError(errno.EBADF, "Bad file descriptor")]
    events = _monitor.EventSocket()
    with pytest.raises(MptcpError, match="^reading MPTCP events failed: Bad file descriptor$"):
        events.receive(1)


@pytest.mark.parametrize("reads, message_part", [
    ([netlink_error(errno.ENOENT)], "the kernel has no generic netlink family mptcp_pm: is MPTCP built into"),
    ([netlink_error(errno.EPERM)], "cannot resolve generic netlink family mptcp_pm: Operation not permitted"),
    ([family_reply({"mptcp_pm_cmds": 10})],
     "the kernel's mptcp_pm family has no mptcp_pm_events multicast group (groups: mptcp_pm_cmds)"),
    ([socket.timeout("timed out")], "no answer from the kernel's generic netlink controller"),
])
def test_a_family_that_cannot_be_resolved_is_named_and_the_socket_closed(genl, reads, message_part):
    genl.reads = reads
    with pytest.raises(MptcpError) as raised:
        _monitor.EventSocket()
    assert message_part in str(raised.value)
    assert genl.made[0].closed and genl.made[0].timeouts[-1] is None


@pytest.mark.parametrize("error, message_part", [
    (OSError(errno.EPERM, "Operation not permitted"), "permission denied: listening to MPTCP events needs CAP_NET_ADMIN"),
    (OSError(errno.EINVAL, "Invalid argument"), "cannot join the mptcp_pm_events multicast group: Invalid argument"),
])
def test_joining_the_group_can_fail(genl, error, message_part):
    genl.reads = [family_reply({"mptcp_pm_events": 9})]
    genl.failures["membership"] = error
    with pytest.raises(MptcpError) as raised:
        _monitor.EventSocket()
    assert message_part in str(raised.value)
    assert genl.made[0].closed


def test_a_socket_that_cannot_be_opened_says_why(genl):
    genl.failures["open"] = OSError(errno.EAFNOSUPPORT, "Address family not supported by protocol")
    with pytest.raises(MptcpError, match="^cannot open a generic netlink socket: Address family not supported"):
        _monitor.EventSocket()
