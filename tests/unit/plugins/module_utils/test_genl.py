"""_genl: the standard-library generic netlink client (resolving a family,
asking a command, reading a dump), through a fake socket; test_monitor.py
and test_pm.py test the two users of it, and test_pm.py reads this host's
real kernel with it."""

import errno
import socket
import struct

import pytest

from ansible_collections.mptcp.multipath.plugins.module_utils import _genl
from ansible_collections.mptcp.multipath.plugins.module_utils._common import MptcpError
from ansible_collections.mptcp.multipath.plugins.module_utils._nlmsg import (
    NLM_F_DUMP,
    NLMSG_DONE,
    NLMSG_ERROR,
    attribute,
    message,
)


def family_reply(family_id, groups=None):
    nested = b"".join(attribute(0x8000 | number, attribute(1, name.encode() + b"\0") + attribute(2, struct.pack("=I", group)))
                      for number, (name, group) in enumerate(sorted((groups or {}).items()), 1))
    body = (_genl.GENL_HEADER.pack(1, 2, 0) + attribute(2, b"mptcp_pm\0") + attribute(1, struct.pack("=H", family_id))
            + (attribute(0x8000 | 7, nested) if nested else b""))
    return message(_genl.GENL_ID_CTRL, 0, 1, body)


def refusal(code):
    return message(NLMSG_ERROR, 0, 1, struct.pack("=i", -code) + b"\0" * 16)


class FakeSocket(object):
    """recv() answers from ``reads`` in order (an exception is raised)."""

    def __init__(self, reads):
        self.reads, self.sent, self.timeouts, self.closed = list(reads), [], [], False

    def sendto(self, data, address):
        self.sent.append(data)

    def settimeout(self, seconds):
        self.timeouts.append(seconds)

    def recv(self, size):
        read = self.reads.pop(0)
        if isinstance(read, BaseException):
            raise read
        return read

    def close(self):
        self.closed = True


def client(reads):
    genl = object.__new__(_genl.GenlSocket)
    genl.sock, genl.sequence = FakeSocket(reads), 1
    return genl


def test_family_reply_gives_the_id_and_the_groups():
    payload = family_reply(28, {"mptcp_pm_events": 9, "mptcp_pm_cmds": 10})[16:]
    assert _genl.parse_family_reply(payload) == (28, {"mptcp_pm_events": 9, "mptcp_pm_cmds": 10})


def test_family_request_is_a_getfamily_for_the_name():
    request = _genl.family_request("mptcp_pm")
    length, kind, flags = struct.unpack_from("=IHH", request)
    assert length == len(request) and kind == 0x10 and flags == 1 and length % 4 == 0
    assert request[16] == 3 and b"mptcp_pm\0" in request


def test_resolve_then_ask_goes_to_the_family_the_controller_named():
    reply = message(0x1c, 0, 2, _genl.GENL_HEADER.pack(6, 1, 0) + attribute(3, struct.pack("=I", 2)))
    genl = client([family_reply(0x1c, {"mptcp_pm_events": 9}), reply])
    assert genl.resolve("mptcp_pm") == (0x1c, {"mptcp_pm_events": 9})
    assert genl.ask(0x1c, 6, 1) == [attribute(3, struct.pack("=I", 2))]
    length, kind, flags, sequence = struct.unpack_from("=IHHI", genl.sock.sent[1])
    assert (kind, flags, sequence) == (0x1c, 1, 2) and genl.sock.sent[1][16] == 6
    assert genl.sock.timeouts == [5, None, 5, None]  # a timeout while waiting, none after


def test_a_dump_reads_every_datagram_up_to_done():
    first = message(0x1c, 2, 2, _genl.GENL_HEADER.pack(3, 1, 0) + b"A" * 4)
    second = message(0x1c, 2, 2, _genl.GENL_HEADER.pack(3, 1, 0) + b"B" * 4)
    genl = client([first + second, first, message(NLMSG_DONE, 2, 2, b"\0" * 4)])
    assert genl.ask(0x1c, 3, 1, dump=True) == [b"AAAA", b"BBBB", b"AAAA"]
    assert struct.unpack_from("=IHH", genl.sock.sent[0])[2] == 1 | NLM_F_DUMP


def test_a_refusal_is_its_errno_and_an_ack_ends_the_answer():
    assert client([refusal(errno.EPERM)]).ask(0x1c, 5, 1) == errno.EPERM
    assert client([refusal(0)]).ask(0x1c, 5, 1) == []


@pytest.mark.parametrize("reads, message_part", [
    ([refusal(errno.ENOENT)], "the kernel has no generic netlink family mptcp_pm: is MPTCP built into"),
    ([refusal(errno.EPERM)], "cannot resolve generic netlink family mptcp_pm: Operation not permitted"),
    ([socket.timeout("timed out")], "no answer from the kernel's generic netlink controller"),
    ([message(NLMSG_DONE, 0, 1, b"\0" * 4)], "the kernel's generic netlink controller gave no id for family mptcp_pm"),
])
def test_a_family_that_cannot_be_resolved_is_named(reads, message_part):
    genl = client(reads)
    with pytest.raises(MptcpError) as raised:
        genl.resolve("mptcp_pm")
    assert message_part in str(raised.value)
    assert genl.sock.timeouts[-1] is None


def test_a_family_that_does_not_answer_is_named():
    with pytest.raises(MptcpError, match="^no answer from the kernel's generic netlink family 28$"):
        client([socket.timeout("timed out")]).ask(28, 6, 1)
