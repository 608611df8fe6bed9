"""_pm: the path manager's limits and endpoints read with the standard
library, from crafted replies and from this host's real kernel (no
privilege needed to read), compared with what iproute2 reads."""

import errno
import json
import socket
import struct
import subprocess

import pytest

from ansible_collections.mptcp.multipath.plugins.module_utils import _genl, _pm
from ansible_collections.mptcp.multipath.plugins.module_utils._common import MptcpError
from ansible_collections.mptcp.multipath.plugins.module_utils._nlmsg import NLMSG_DONE, NLMSG_ERROR, attribute, message


def u32(kind, value):
    return attribute(kind, struct.pack("=I", value))


def endpoint(endpoint_id, address, flags=0, ifindex=None, port=None):
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    fields = (attribute(_pm.ADDR_ATTR_FAMILY, struct.pack("=H", family))
              + attribute(_pm.ADDR_ATTR_ID, struct.pack("=B", endpoint_id))
              + attribute(_pm.ADDR_ATTR_ADDR6 if family == socket.AF_INET6 else _pm.ADDR_ATTR_ADDR4,
                          socket.inet_pton(family, address))
              + u32(_pm.ADDR_ATTR_FLAGS, flags))
    if ifindex is not None:
        fields += attribute(_pm.ADDR_ATTR_IF_IDX, struct.pack("=i", ifindex))
    if port is not None:
        fields += attribute(_pm.ADDR_ATTR_PORT, struct.pack("=H", port))
    return attribute(0x8000 | _pm.ATTR_ADDR, fields)


def test_limits_are_both_u32_attributes():
    payload = u32(_pm.ATTR_RCV_ADD_ADDRS, 1) + u32(_pm.ATTR_SUBFLOWS, 3)
    assert _pm.parse_limits(payload) == {"subflows": 3, "add_addr_accepted": 1}
    assert _pm.parse_limits(attribute(_pm.ATTR_SUBFLOWS, b"\x01")) == {}  # too short: left out


def test_endpoints_read_as_the_pyroute2_reader_gives_them():
    names = {3: "link1"}
    assert _pm.parse_endpoint(endpoint(2, "198.51.100.1", flags=0x1 | 0x4, ifindex=3), names) == {
        "id": 2, "address": "198.51.100.1", "port": 0, "flags": ["signal", "backup"], "ifindex": 3, "dev": "link1"}
    assert _pm.parse_endpoint(endpoint(5, "2001:db8:0:0::1", flags=0x2, port=10000), names) == {
        "id": 5, "address": "2001:db8::1", "port": 10000, "flags": ["subflow"], "ifindex": 0, "dev": None}
    assert _pm.parse_endpoint(attribute(0x8000 | _pm.ATTR_ADDR, b""), names) is None


class FakeSocket(object):
    def __init__(self, reads):
        self.reads, self.sent = list(reads), []

    def sendto(self, data, address):
        self.sent.append(data)

    def settimeout(self, seconds):
        pass

    def recv(self, size):
        return self.reads.pop(0)

    def close(self):
        pass


def path_manager(reads):
    reader = object.__new__(_pm.PathManager)
    reader.sock, reader.sequence, reader.family = FakeSocket(reads), 1, 0x1c
    return reader


def reply(command, body):
    return message(0x1c, 2, 2, _genl.GENL_HEADER.pack(command, 1, 0) + body)


def test_the_endpoints_come_in_one_dump_sorted_by_id():
    reader = path_manager([reply(3, endpoint(4, "10.0.0.4")) + reply(3, endpoint(1, "10.0.0.1")),
                           message(NLMSG_DONE, 2, 2, b"\0" * 4)])
    assert [item["id"] for item in reader.endpoints()] == [1, 4]
    assert reader.sock.sent[0][16] == _pm.CMD_GET_ADDR


def test_a_refused_read_says_what_was_refused():
    refused = message(NLMSG_ERROR, 0, 2, struct.pack("=i", -errno.EOPNOTSUPP) + b"\0" * 16)
    with pytest.raises(MptcpError, match="^the kernel refused to read limits: Operation not supported$"):
        path_manager([refused]).limits()
    with pytest.raises(MptcpError, match="^the kernel sent no limits$"):
        path_manager([message(NLMSG_DONE, 2, 2, b"\0" * 4)]).limits()


def test_this_hosts_kernel_reads_as_iproute2_reads_it():
    with _pm.PathManager() as reader:
        limits, endpoints = reader.limits(), reader.endpoints()
    words = subprocess.check_output(["ip", "mptcp", "limits", "show"], universal_newlines=True).split()
    assert limits == dict((key, int(value)) for key, value in zip(words[::2], words[1::2]))
    shown = json.loads(subprocess.check_output(["ip", "-j", "mptcp", "endpoint", "show"], universal_newlines=True) or "[]")
    assert [(item["id"], item["address"]) for item in endpoints] == [(item["id"], item["address"]) for item in shown]
