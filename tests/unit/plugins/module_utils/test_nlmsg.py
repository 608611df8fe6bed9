import errno
import struct

import pytest

from ansible_collections.mptcp.multipath.plugins.module_utils import _nlmsg


def test_message_and_attribute_round_trip():
    body = _nlmsg.attribute(1, b"abc") + _nlmsg.attribute(0x8000 | 2, struct.pack("=I", 7))
    data = _nlmsg.message(28, _nlmsg.NLM_F_REQUEST, 5, body) + _nlmsg.message(_nlmsg.NLMSG_DONE, 0, 6, b"")
    assert len(_nlmsg.attribute(1, b"abc")) == 8  # 4 header + 3 value + 1 padding
    messages = _nlmsg.split_messages(data)
    assert [kind for kind, _payload in messages] == [28, _nlmsg.NLMSG_DONE]
    # the nested bit is masked off; values keep their exact length
    assert _nlmsg.parse_attributes(messages[0][1]) == [(1, b"abc"), (2, struct.pack("=I", 7))]


@pytest.mark.parametrize("cut", range(1, 16))
def test_truncated_datagrams_yield_the_whole_messages_only(cut):
    first = _nlmsg.message(28, 0, 1, _nlmsg.attribute(1, b"abcd"))
    second = _nlmsg.message(29, 0, 2, _nlmsg.attribute(1, b"efgh"))
    data = first + second
    assert _nlmsg.split_messages(data[:len(data) - cut]) == [(28, first[16:])]


@pytest.mark.parametrize("data", [
    b"", b"\x01", struct.pack("=IHHII", 8, 28, 0, 0, 0),  # a length shorter than its own header
    struct.pack("=IHHII", 4096, 28, 0, 0, 0) + b"xx",    # a length past the end
])
def test_malformed_messages_are_dropped_not_raised(data):
    assert _nlmsg.split_messages(data) == []


@pytest.mark.parametrize("data, expected", [
    (b"\x08\x00\x01\x00abcd\x03\x00", [(1, b"abcd")]),     # a trailing fragment
    (b"\x02\x00\x01\x00abcd", []),                        # a length below the header
    (b"\x20\x00\x01\x00abcd", []),                        # a length past the end
])
def test_malformed_attributes_end_the_run(data, expected):
    assert _nlmsg.parse_attributes(data) == expected


def test_error_code():
    assert _nlmsg.error_code(struct.pack("=i", -errno.ENOENT) + b"\0" * 16) == errno.ENOENT
    assert _nlmsg.error_code(struct.pack("=i", 0)) == 0
    assert _nlmsg.error_code(b"\x01\x02") == errno.EPROTO
