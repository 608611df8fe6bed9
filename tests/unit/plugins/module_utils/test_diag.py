import socket
import struct

from ansible_collections.mptcp.multipath.plugins.module_utils import _diag


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
