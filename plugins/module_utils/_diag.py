# -*- coding: utf-8 -*-
# Copyright: mptcp.multipath contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the kernel says about live MPTCP: the MPTcpExt counters (what
``nstat`` shows) and the MPTCP sockets with their subflow counts (what
``ss -Mni`` shows), read from /proc/net/netstat and sock_diag netlink
with the standard library only."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import os
import socket
import struct

from ansible_collections.mptcp.multipath.plugins.module_utils._common import MptcpError
from ansible_collections.mptcp.multipath.plugins.module_utils._nlmsg import (
    NLM_F_DUMP,
    NLM_F_REQUEST,
    NLMSG_DONE,
    NLMSG_ERROR,
    attribute,
    error_code,
    message,
    parse_attributes,
    split_messages,
)

NETSTAT_PATH = "/proc/net/netstat"
NETDEV_PATH = "/proc/net/dev"
NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
IPPROTO_MPTCP = 262
INET_DIAG_INFO = 2
INET_DIAG_REQ_PROTOCOL = 3  # protocol numbers above 255 travel in this attribute
TCP_STATES = ("", "established", "syn-sent", "syn-recv", "fin-wait-1", "fin-wait-2", "time-wait",
              "close", "close-wait", "last-ack", "listen", "closing")

_REQ = struct.Struct("=BBBxI48s")            # inet_diag_req_v2 with a zeroed socket id
_MSG = struct.Struct("=BBBBHH16s16sI8sIIIII")  # inet_diag_msg (ports big-endian, fixed below)
# struct mptcp_info (include/uapi/linux/mptcp.h) in native layout; older
# kernels send a prefix of it, newer ones more fields after it.
MPTCP_INFO_FIELDS = (
    ("subflows", "B"), ("add_addr_signal", "B"), ("add_addr_accepted", "B"), ("subflows_max", "B"),
    ("add_addr_signal_max", "B"), ("add_addr_accepted_max", "B"), ("flags", "I"), ("token", "I"),
    ("write_seq", "Q"), ("snd_una", "Q"), ("rcv_nxt", "Q"), ("local_addr_used", "B"),
    ("local_addr_max", "B"), ("csum_enabled", "B"), ("retransmits", "I"), ("bytes_retrans", "Q"),
    ("bytes_sent", "Q"), ("bytes_received", "Q"), ("bytes_acked", "Q"), ("subflows_total", "B"),
)
MPTCP_INFO_FLAG_FALLBACK = 0x1


def _lines(path):
    try:
        with open(path) as handle:
            return handle.read().splitlines()
    except (IOError, OSError) as exc:
        raise MptcpError("cannot read %s: %s" % (path, exc))


def counters(path=NETSTAT_PATH):
    """The MPTcpExt counters as {name: value}, names without the prefix."""
    lines = _lines(path)
    for header, values in zip(lines[::2], lines[1::2]):
        if header.startswith("MPTcpExt:"):
            return dict(zip(header.split()[1:], (int(value) for value in values.split()[1:])))
    return {}


def interface_bytes(path=NETDEV_PATH):
    """{interface: {"rx_bytes": n, "tx_bytes": n}} of this network namespace,
    to tell how much each link carried."""
    result = {}
    for line in _lines(path)[2:]:  # two header lines
        name, _sep, numbers = line.partition(":")
        fields = numbers.split()
        if len(fields) >= 9:
            result[name.strip()] = {"rx_bytes": int(fields[0]), "tx_bytes": int(fields[8])}
    return result


def parse_mptcp_info(data):
    """Decode as many mptcp_info fields as the kernel sent."""
    info, fmt = {}, "@"
    for name, code in MPTCP_INFO_FIELDS:
        fmt += code
        if struct.calcsize(fmt) > len(data):
            break
        info[name] = struct.unpack_from(fmt, data)[-1]
    if "token" in info:
        info["token"] = "%08x" % info["token"]
    if "flags" in info:
        info["fallback"] = bool(info["flags"] & MPTCP_INFO_FLAG_FALLBACK)
    return info


def _address(family, raw):
    return socket.inet_ntop(family, raw[:4] if family == socket.AF_INET else raw)


def parse_diag_message(payload):
    """One inet_diag_msg and its attributes -> a connection dict, or None
    for a message too short to hold one."""
    if len(payload) < _MSG.size:
        return None
    fields = _MSG.unpack_from(payload)
    family, state = fields[0], fields[1]
    sport, dport = socket.ntohs(fields[4]), socket.ntohs(fields[5])
    connection = {
        "family": "ipv4" if family == socket.AF_INET else "ipv6",
        "state": TCP_STATES[state] if state < len(TCP_STATES) else str(state),
        "local_address": _address(family, fields[6]),
        "local_port": sport,
        "remote_address": _address(family, fields[7]),
        "remote_port": dport,
    }
    for kind, value in parse_attributes(payload, _MSG.size):
        if kind == INET_DIAG_INFO:
            connection.update(parse_mptcp_info(value))
    return connection


def _dump(family):
    request = _REQ.pack(family, 0, 1 << (INET_DIAG_INFO - 1), 0xffffffff, b"\0" * 48)
    body = request + attribute(INET_DIAG_REQ_PROTOCOL, struct.pack("=I", IPPROTO_MPTCP))
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_SOCK_DIAG)
    try:
        sock.sendto(message(SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, 1, body), (0, 0))
        while True:
            data = sock.recv(65536)
            if not data:
                return
            for kind, payload in split_messages(data):
                if kind == NLMSG_DONE:
                    return
                if kind == NLMSG_ERROR:
                    code = error_code(payload)
                    if code in (errno.ENOENT, errno.EINVAL, errno.EOPNOTSUPP):
                        return  # no MPTCP diag support (mptcp_diag not loaded): no sockets to show
                    raise MptcpError("sock_diag dump failed: %s" % os.strerror(code))
                connection = parse_diag_message(payload)
                if connection is not None:
                    yield connection
    finally:
        sock.close()


def connections():
    """Every MPTCP socket of this network namespace (listeners included)."""
    result = []
    for family in (socket.AF_INET, socket.AF_INET6):
        result.extend(_dump(family))
    return result
