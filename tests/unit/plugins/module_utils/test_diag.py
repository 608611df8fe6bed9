import errno
import socket
import struct

import pytest

from ansible_collections.mptcp.multipath.plugins.module_utils import _diag
from ansible_collections.mptcp.multipath.plugins.module_utils import _nlmsg as nlmsg
from ansible_collections.mptcp.multipath.plugins.module_utils._common import MptcpError


def test_counters_reads_only_the_mptcp_block(tmp_path):
    netstat = tmp_path / "netstat"
    netstat.write_text(
        "TcpExt: SyncookiesSent SyncookiesRecv\nTcpExt: 1 2\n"
        "MPTcpExt: MPCapableSYNRX MPJoinSynRx MPJoinAckRx\nMPTcpExt: 3 1 1\n")
    assert _diag.counters(str(netstat)) == {"MPCapableSYNRX": 3, "MPJoinSynRx": 1, "MPJoinAckRx": 1}


def test_counters_without_mptcp_is_empty(tmp_path):
    netstat = tmp_path / "netstat"
    netstat.write_text("TcpExt: A\nTcpExt: 1\n")
    assert _diag.counters(str(netstat)) == {}


def mptcp_info_bytes(**values):
    fmt, fields = "@", []
    for name, code in _diag.MPTCP_INFO_FIELDS:
        fmt += code
        fields.append(values.get(name, 0))
    return struct.pack(fmt, *fields)


def test_parse_mptcp_info_full_and_truncated():
    data = mptcp_info_bytes(subflows=1, subflows_max=2, add_addr_accepted=1, token=0x63c070d2,
                            flags=0, bytes_sent=4096, subflows_total=2)
    info = _diag.parse_mptcp_info(data)
    assert info["subflows"] == 1 and info["subflows_max"] == 2 and info["add_addr_accepted"] == 1
    assert info["token"] == "63c070d2" and info["fallback"] is False
    assert info["bytes_sent"] == 4096 and info["subflows_total"] == 2
    older = _diag.parse_mptcp_info(data[:40])  # a kernel that sends fewer fields
    assert older["rcv_nxt"] == 0 and "bytes_sent" not in older


def test_parse_diag_message_decodes_addresses_ports_and_info():
    info = mptcp_info_bytes(subflows=1, token=0xdeadbeef, flags=1)
    attribute = struct.pack("=HH", 4 + len(info), _diag.INET_DIAG_INFO) + info
    attribute += b"\0" * (-len(attribute) % 4)
    message = _diag._MSG.pack(socket.AF_INET, 1, 0, 0, socket.htons(36444), socket.htons(12345),
                              socket.inet_aton("192.0.2.2") + b"\0" * 12,
                              socket.inet_aton("192.0.2.1") + b"\0" * 12, 0, b"\0" * 8, 0, 0, 0, 0, 0)
    connection = _diag.parse_diag_message(message + attribute)
    assert connection["local_address"] == "192.0.2.2" and connection["local_port"] == 36444
    assert connection["remote_address"] == "192.0.2.1" and connection["remote_port"] == 12345
    assert connection["state"] == "established" and connection["family"] == "ipv4"
    assert connection["token"] == "deadbeef" and connection["fallback"] is True


def test_interface_bytes_reads_rx_and_tx(tmp_path):
    netdev = tmp_path / "dev"
    netdev.write_text(
        "Inter-|   Receive                                                |  Transmit\n"
        " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n"
        "    lo:     100       1    0    0    0     0          0         0      100       1    0    0    0     0       0          0\n"
        "enp4s0f0: 4526835 3100 0 0 0 0 0 0 9876 120 0 0 0 0 0 0\n")
    assert _diag.interface_bytes(str(netdev)) == {
        "lo": {"rx_bytes": 100, "tx_bytes": 100},
        "enp4s0f0": {"rx_bytes": 4526835, "tx_bytes": 9876},
    }


def test_parse_diag_message_of_a_short_message_is_none():
    assert _diag.parse_diag_message(b"\x02\x01" * 10) is None


def test_an_unreadable_counters_file_is_named(tmp_path):
    missing = str(tmp_path / "netstat")
    with pytest.raises(MptcpError, match="cannot read %s: " % missing):
        _diag.counters(missing)


def diag_message(port):
    return _diag._MSG.pack(socket.AF_INET, 10, 0, 0, socket.htons(port), 0, socket.inet_aton("127.0.0.1") + b"\0" * 12,
                           b"\0" * 16, 0, b"\0" * 8, 0, 0, 0, 0, 0)


class FakeDiagSocket(object):
    """A NETLINK_SOCK_DIAG socket that answers each dump with the datagrams
    of ``replies`` (per address family), and records what it was sent."""

    replies = {}
    made = []

    def __init__(self, family, kind, protocol):
        assert (family, kind, protocol) == (socket.AF_NETLINK, socket.SOCK_RAW, _diag.NETLINK_SOCK_DIAG)
        self.sent, self.answers, self.closed = [], [], False
        FakeDiagSocket.made.append(self)

    def sendto(self, data, address):
        assert address == (0, 0)
        self.sent.append(data)
        request_family = struct.unpack_from("=B", data, nlmsg.HEADER.size)[0]
        self.answers = list(self.replies[request_family])

    def recv(self, size):
        return self.answers.pop(0)

    def close(self):
        self.closed = True


@pytest.fixture
def fake_diag(monkeypatch):
    FakeDiagSocket.made = []
    monkeypatch.setattr(_diag.socket, "socket", FakeDiagSocket)
    return FakeDiagSocket


def done():
    return nlmsg.message(nlmsg.NLMSG_DONE, 0, 1, struct.pack("=i", 0))


def error(code):
    return nlmsg.message(nlmsg.NLMSG_ERROR, 0, 1, struct.pack("=i", -code) + b"\0" * 16)


def test_connections_asks_each_family_for_mptcp_sockets_and_reads_every_datagram(fake_diag):
    fake_diag.replies = {
        # two datagrams for IPv4, a short message in between that is not a connection
        socket.AF_INET: [nlmsg.message(_diag.SOCK_DIAG_BY_FAMILY, 0, 1, diag_message(5201))
                         + nlmsg.message(_diag.SOCK_DIAG_BY_FAMILY, 0, 1, b"\0" * 8),
                         nlmsg.message(_diag.SOCK_DIAG_BY_FAMILY, 0, 1, diag_message(7777)) + done()],
        socket.AF_INET6: [done()],
    }
    found = _diag.connections()
    assert [(c["state"], c["local_address"], c["local_port"]) for c in found] == [
        ("listen", "127.0.0.1", 5201), ("listen", "127.0.0.1", 7777)]
    requests = [sock.sent[0] for sock in fake_diag.made]
    assert [struct.unpack_from("=B", request, nlmsg.HEADER.size)[0] for request in requests] == [
        socket.AF_INET, socket.AF_INET6]
    # the protocol travels in INET_DIAG_REQ_PROTOCOL: 262 does not fit inet_diag_req_v2's byte
    for request in requests:
        kind, flags = nlmsg.HEADER.unpack_from(request)[1:3]
        assert (kind, flags) == (_diag.SOCK_DIAG_BY_FAMILY, nlmsg.NLM_F_REQUEST | nlmsg.NLM_F_DUMP)
        attributes = nlmsg.parse_attributes(request, nlmsg.HEADER.size + _diag._REQ.size)
        assert attributes == [(_diag.INET_DIAG_REQ_PROTOCOL, struct.pack("=I", _diag.IPPROTO_MPTCP))]
    assert all(sock.closed for sock in fake_diag.made)


@pytest.mark.parametrize("code", [errno.ENOENT, errno.EINVAL, errno.EOPNOTSUPP])
def test_a_kernel_without_mptcp_diag_has_no_sockets_to_show(fake_diag, code):
    fake_diag.replies = {socket.AF_INET: [error(code)], socket.AF_INET6: [error(code)]}
    assert _diag.connections() == []
    assert len(fake_diag.made) == 2 and all(sock.closed for sock in fake_diag.made)


def test_another_dump_error_is_raised_with_its_reason(fake_diag):
    fake_diag.replies = {socket.AF_INET: [error(errno.EPERM)], socket.AF_INET6: [done()]}
    with pytest.raises(MptcpError, match="^sock_diag dump failed: Operation not permitted$"):
        _diag.connections()
    assert fake_diag.made[0].closed


def test_a_dump_that_ends_without_done_ends_at_the_empty_read(fake_diag):
    fake_diag.replies = {socket.AF_INET: [nlmsg.message(_diag.SOCK_DIAG_BY_FAMILY, 0, 1, diag_message(5201)), b""],
                         socket.AF_INET6: [b""]}
    assert [c["local_port"] for c in _diag.connections()] == [5201]


def test_the_kernel_lists_an_mptcp_listener_of_this_process():
    # the real sock_diag dump of this network namespace: a listener, no traffic
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, _diag.IPPROTO_MPTCP)
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        mine = [c for c in _diag.connections() if c["local_port"] == port and c["local_address"] == "127.0.0.1"]
    finally:
        listener.close()
    assert len(mine) == 1
    assert mine[0]["state"] == "listen" and mine[0]["family"] == "ipv4" and mine[0]["fallback"] is False
