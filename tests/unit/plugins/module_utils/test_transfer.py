import errno
import struct

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
