# -*- coding: utf-8 -*-
# Copyright: mptcp.multipath contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The in-kernel path manager read with the standard library: its limits and
endpoints, what ``ip mptcp limits show`` and ``ip mptcp endpoint show`` ask.
mptcp_preflight, mptcp_limits and mptcp_info read through it on every run;
changes go through pyroute2 (_netlink), imported only when there is one.

Numbers from include/uapi/linux/mptcp_pm.h (generated from
Documentation/netlink/specs/mptcp_pm.yaml)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import ipaddress
import os
import socket
import struct

from ansible_collections.mptcp.multipath.plugins.module_utils._common import MptcpError
from ansible_collections.mptcp.multipath.plugins.module_utils._endpoint_flags import decode_flags
from ansible_collections.mptcp.multipath.plugins.module_utils._genl import GenlSocket
from ansible_collections.mptcp.multipath.plugins.module_utils._nlmsg import parse_attributes

FAMILY_NAME = "mptcp_pm"
VERSION = 1
CMD_GET_ADDR = 3
CMD_GET_LIMITS = 6
ATTR_ADDR = 1           # nested: one endpoint
ATTR_RCV_ADD_ADDRS = 2  # u32
ATTR_SUBFLOWS = 3       # u32
ADDR_ATTR_FAMILY = 1    # u16
ADDR_ATTR_ID = 2        # u8
ADDR_ATTR_ADDR4 = 3     # be32
ADDR_ATTR_ADDR6 = 4     # 16 bytes
ADDR_ATTR_PORT = 5      # u16, host order
ADDR_ATTR_FLAGS = 6     # u32
ADDR_ATTR_IF_IDX = 7    # s32

_U32 = struct.Struct("=I")


def _unsigned(value, size):
    return struct.unpack_from({1: "=B", 2: "=H", 4: "=I"}[size], value)[0] if len(value) >= size else None


def parse_limits(payload):
    """{subflows, add_addr_accepted} of a GET_LIMITS reply (after its genl header)."""
    attributes = dict(parse_attributes(payload))
    found = {}
    for name, kind in (("subflows", ATTR_SUBFLOWS), ("add_addr_accepted", ATTR_RCV_ADD_ADDRS)):
        if len(attributes.get(kind, b"")) >= _U32.size:
            found[name] = _U32.unpack_from(attributes[kind])[0]
    return found


def parse_endpoint(payload, names):
    """One endpoint of a GET_ADDR dump (after its genl header), in the form
    _netlink.MptcpNetlink.endpoints gives; ``names``: {ifindex: name}."""
    fields = dict(parse_attributes(dict(parse_attributes(payload)).get(ATTR_ADDR, b"")))
    # written as _netlink writes them (ipaddress), from the packed bytes
    if len(fields.get(ADDR_ATTR_ADDR4, b"")) == 4:
        address = str(ipaddress.ip_address(bytes(fields[ADDR_ATTR_ADDR4])))
    elif len(fields.get(ADDR_ATTR_ADDR6, b"")) == 16:
        address = str(ipaddress.ip_address(bytes(fields[ADDR_ATTR_ADDR6])))
    else:
        return None
    ifindex = struct.unpack_from("=i", fields[ADDR_ATTR_IF_IDX])[0] if len(fields.get(ADDR_ATTR_IF_IDX, b"")) >= 4 else 0
    return {
        "id": _unsigned(fields.get(ADDR_ATTR_ID, b""), 1),
        "address": address,
        "port": _unsigned(fields.get(ADDR_ATTR_PORT, b""), 2) or 0,
        "flags": decode_flags(_unsigned(fields.get(ADDR_ATTR_FLAGS, b""), 4) or 0),
        "ifindex": ifindex,
        "dev": names.get(ifindex) if ifindex else None,
    }


class PathManager(GenlSocket):
    """The limits and endpoints of the current network namespace's path manager."""

    def __init__(self):
        GenlSocket.__init__(self)
        try:
            self.family = self.resolve(FAMILY_NAME)[0]
        except BaseException:
            self.sock.close()
            raise

    def _ask(self, command, what, dump=False):
        answer = self.ask(self.family, command, VERSION, dump=dump)
        if isinstance(answer, int):
            raise MptcpError("the kernel refused to %s: %s" % (what, os.strerror(answer or errno.EPROTO)))
        return answer

    def limits(self):
        answer = self._ask(CMD_GET_LIMITS, "read limits")
        if not answer:
            raise MptcpError("the kernel sent no limits")
        return parse_limits(answer[0])

    def endpoints(self):
        """All endpoints, sorted by id, as plain dicts."""
        names = dict(socket.if_nameindex())
        endpoints = [parse_endpoint(payload, names) for payload in self._ask(CMD_GET_ADDR, "list endpoints", dump=True)]
        return sorted((endpoint for endpoint in endpoints if endpoint), key=lambda endpoint: endpoint["id"])
