import errno
import json
import socket
import struct
import threading

import pytest

from ansible_collections.mptcp.multipath.plugins.module_utils import _transfer


class FakeSocket(object):
    """getsockopt(SOL_MPTCP, MPTCP_INFO) as the kernel answers it."""

    def __init__(self, answer):
        self.answer = answer

    def getsockopt(self, level, option, size):
        assert (level, option) == (_transfer.SOL_MPTCP, _transfer.MPTCP_INFO)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer[:size]


def mptcp_info(subflows, flags):
    # struct mptcp_info: six u8 counters, then u32 flags at its natural alignment
    return struct.pack("@BBBBBBI", subflows, 0, 0, 8, 0, 8, flags) + b"\0" * 56


@pytest.mark.parametrize("answer, expected", [
    (mptcp_info(2, 0), (2, False)),
    (mptcp_info(0, 0x1), (0, True)),     # MPTCP_INFO_FLAG_FALLBACK
    (mptcp_info(3, 0)[:4], (3, False)),  # an answer too short for the flags
    (OSError(errno.EOPNOTSUPP, "not MPTCP"), (0, True)),  # a fallen-back socket has no MPTCP_INFO
])
def test_subflows_and_fallback_come_from_mptcp_info(answer, expected):
    assert _transfer.subflow_info(FakeSocket(answer)) == expected


@pytest.mark.parametrize("text, count", [("512", 512), ("64K", 65536), ("16m", 16 << 20), (" 1G ", 1 << 30)])
def test_sizes_take_binary_suffixes(text, count):
    assert _transfer.size(text) == count


def test_a_host_without_mptcp_counters_is_one_json_error_line(monkeypatch, capsys):
    def unreadable():
        raise _transfer.MptcpError("cannot read /proc/net/netstat: gone")
    monkeypatch.setattr(_transfer, "host_counters", unreadable)
    assert _transfer.main(["send", "--connect", "127.0.0.1", "--port", "9"]) == 1
    assert capsys.readouterr().out == '{"role": "send", "error": "cannot read /proc/net/netstat: gone"}\n'


def test_the_socket_family_follows_the_address(monkeypatch):
    made = []
    monkeypatch.setattr(_transfer.socket, "socket", lambda *args: made.append(args) or args)
    _transfer.mptcp_socket("192.0.2.1")
    _transfer.mptcp_socket("2001:db8::1")
    assert made == [(socket.AF_INET, socket.SOCK_STREAM, 262), (socket.AF_INET6, socket.SOCK_STREAM, 262)]


def test_host_counters_reads_this_namespace():
    mptcp, interfaces = _transfer.host_counters()
    assert all(isinstance(value, int) for value in mptcp.values())
    assert set(interfaces["lo"]) == {"rx_bytes", "tx_bytes"}


class PairEnd(object):
    """One end of a socketpair standing for an MPTCP connection: the bytes
    really go through the kernel, MPTCP_INFO says two subflows."""

    def __init__(self, sock):
        self.sock = sock
        self.connected_to = None

    def getsockopt(self, level, option, size):
        return mptcp_info(2, 0)[:size]

    def connect(self, address):
        self.connected_to = address

    def __getattr__(self, name):
        return getattr(self.sock, name)


class Listener(object):
    """The receiver's listening socket: its accept() hands over the pair's other end."""

    def __init__(self, connection):
        self.connection = connection
        self.bound = None

    def setsockopt(self, *args):
        pass

    def bind(self, address):
        self.bound = address

    def listen(self, backlog):
        pass

    def settimeout(self, seconds):
        pass

    def accept(self):
        return self.connection, ("192.0.2.2", 40000)

    def close(self):
        pass


def test_send_and_receive_move_every_byte_and_report_what_changed(monkeypatch, tmp_path, capsys):
    client_end, server_end = socket.socketpair()
    client, listener = PairEnd(client_end), Listener(PairEnd(server_end))
    monkeypatch.setattr(_transfer, "mptcp_socket", lambda address: {"192.0.2.1": client, "0.0.0.0": listener}[address])
    # each end reads its host's counters twice: before the connection and in its report
    samples = {
        "receiver": iter([({"MPJoinSynRx": 5, "MPCapableSYNRX": 1}, {"eth1": {"rx_bytes": 1000, "tx_bytes": 10}}),
                          ({"MPJoinSynRx": 6, "MPCapableSYNRX": 1}, {"eth1": {"rx_bytes": 205800, "tx_bytes": 90},
                                                                     "eth2": {"rx_bytes": 5, "tx_bytes": 0}})]),
        "sender": iter([({}, {"eth1": {"rx_bytes": 0, "tx_bytes": 0}}),
                        ({"MPJoinSynAckRx": 1}, {"eth1": {"rx_bytes": 80, "tx_bytes": 204900}})]),
    }
    monkeypatch.setattr(_transfer, "host_counters", lambda: next(
        samples["receiver" if threading.current_thread().name == "receiver" else "sender"]))
    ready, receiver_report = tmp_path / "ready", tmp_path / "receiver.json"
    results = {}
    receiver = threading.Thread(name="receiver", target=lambda: results.update(receiver=_transfer.main(
        ["receive", "--ready-file", str(ready), "--report", str(receiver_report), "--timeout", "10"])))
    receiver.start()
    try:
        sent = _transfer.main(["send", "--connect", "192.0.2.1", "--port", "5202", "--bytes", "200K",
                               "--join-wait", "0", "--timeout", "10"])
    finally:
        receiver.join(10)
    assert (sent, results) == (0, {"receiver": 0})
    assert ready.read_text() == "listening\n"
    assert listener.bound == ("0.0.0.0", 5201) and client.connected_to == ("192.0.2.1", 5202)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    by_role = dict((line["role"], line) for line in lines)
    assert json.loads(receiver_report.read_text()) == by_role["receiver"]
    for role in ("sender", "receiver"):
        assert by_role[role]["bytes"] == 200 * 1024
        assert by_role[role]["max_additional_subflows"] == 2 and by_role[role]["fallback"] is False
        assert by_role[role]["mbit_per_s"] > 0
    # only the counters that moved; every interface of the second reading
    assert by_role["receiver"]["counters"] == {"MPJoinSynRx": 1}
    assert by_role["receiver"]["interfaces"] == {"eth1": {"rx_bytes": 204800, "tx_bytes": 80},
                                                 "eth2": {"rx_bytes": 5, "tx_bytes": 0}}
    assert by_role["sender"]["counters"] == {"MPJoinSynAckRx": 1}
    assert by_role["sender"]["interfaces"] == {"eth1": {"rx_bytes": 80, "tx_bytes": 204900}}


def test_a_receiver_nobody_connects_to_ends_with_an_error_line(monkeypatch, capsys):
    class Lonely(Listener):
        def accept(self):
            raise socket.timeout("timed out")
    monkeypatch.setattr(_transfer, "mptcp_socket", lambda address: Lonely(None))
    monkeypatch.setattr(_transfer, "host_counters", lambda: ({}, {}))
    assert _transfer.main(["receive", "--timeout", "0.1"]) == 1
    assert json.loads(capsys.readouterr().out) == {"role": "receive", "error": "timed out"}
