# -*- coding: utf-8 -*-
# Copyright: mptcp.multipath contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A generic netlink socket with the standard library only: open it,
resolve a family (and its multicast groups) with nlctrl, send a command and
read its replies. The one client under _monitor's EventSocket (MPTCP events)
and _pm's PathManager (the limits and endpoints, read without pyroute2,
whose 0.7 package costs a host more to import than a whole task).

Numbers from include/uapi/linux/genetlink.h."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import os
import socket
import struct

from ansible_collections.mptcp.multipath.plugins.module_utils._common import ClosesSocket, MptcpError
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

NETLINK_GENERIC = 16
SOL_NETLINK = 270
NETLINK_ADD_MEMBERSHIP = 1
GENL_ID_CTRL = 0x10
CTRL_CMD_GETFAMILY = 3
CTRL_ATTR_FAMILY_ID = 1
CTRL_ATTR_FAMILY_NAME = 2
CTRL_ATTR_MCAST_GROUPS = 7
CTRL_ATTR_MCAST_GRP_NAME = 1
CTRL_ATTR_MCAST_GRP_ID = 2

# genlmsghdr: command, version, reserved
GENL_HEADER = struct.Struct("=BBH")
ANSWER_SECONDS = 5


def parse_family_reply(payload):
    """(family id, {group name: group id}) of a CTRL_CMD_NEWFAMILY message."""
    family_id, groups = None, {}
    for kind, value in parse_attributes(payload, GENL_HEADER.size):
        if kind == CTRL_ATTR_FAMILY_ID:
            family_id = struct.unpack_from("=H", value)[0]
        elif kind == CTRL_ATTR_MCAST_GROUPS:
            for _index, group in parse_attributes(value):
                fields = dict(parse_attributes(group))
                if CTRL_ATTR_MCAST_GRP_NAME in fields and CTRL_ATTR_MCAST_GRP_ID in fields:
                    name = fields[CTRL_ATTR_MCAST_GRP_NAME].split(b"\0", 1)[0].decode("ascii", "replace")
                    groups[name] = struct.unpack_from("=I", fields[CTRL_ATTR_MCAST_GRP_ID])[0]
    return family_id, groups


def family_request(name, sequence=1):
    """A CTRL_CMD_GETFAMILY request for one generic netlink family."""
    body = GENL_HEADER.pack(CTRL_CMD_GETFAMILY, 1, 0) + attribute(CTRL_ATTR_FAMILY_NAME, name.encode("ascii") + b"\0")
    return message(GENL_ID_CTRL, NLM_F_REQUEST, sequence, body)


class GenlSocket(ClosesSocket):
    """A NETLINK_GENERIC socket of the current network namespace (enter the
    namespace before opening it)."""

    def __init__(self, receive_buffer=None):
        try:
            self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
        except OSError as exc:
            raise MptcpError("cannot open a generic netlink socket: %s" % exc.strerror)
        try:
            if receive_buffer:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
            self.sock.bind((0, 0))
        except BaseException:
            self.sock.close()
            raise
        self.sequence = 1

    def exchange(self, request, kind, dump=False):
        """The payloads of the replies of type ``kind`` to ``request``: the
        first one, or with ``dump`` all up to NLMSG_DONE. A refusal is
        returned as its errno (an int) for the caller to word."""
        self.sock.sendto(request, (0, 0))
        self.sock.settimeout(ANSWER_SECONDS)
        payloads = []
        try:
            while True:
                for reply, payload in split_messages(self.sock.recv(65536)):
                    if reply == NLMSG_ERROR:
                        return error_code(payload) or payloads
                    if reply == NLMSG_DONE:
                        return payloads
                    if reply == kind:
                        payloads.append(payload)
                        if not dump:
                            return payloads
        except socket.timeout:
            raise MptcpError("no answer from the kernel's generic netlink %s" % (
                "controller" if kind == GENL_ID_CTRL else "family %d" % kind))
        finally:
            self.sock.settimeout(None)

    def resolve(self, name):
        """(family id, {group name: id}) of the generic netlink family ``name``."""
        answer = self.exchange(family_request(name, self.sequence), GENL_ID_CTRL)
        if isinstance(answer, int):
            if answer == errno.ENOENT:
                raise MptcpError("the kernel has no generic netlink family %s: is MPTCP built into this kernel "
                                 "(CONFIG_MPTCP)?" % name)
            raise MptcpError("cannot resolve generic netlink family %s: %s" % (name, os.strerror(answer)))
        family_id, groups = parse_family_reply(answer[0]) if answer else (None, {})
        if family_id is None:
            raise MptcpError("the kernel's generic netlink controller gave no id for family %s" % name)
        return family_id, groups

    def ask(self, family_id, command, version, body=b"", dump=False):
        """The payloads (after their genl header) answering one command, or
        the errno of a refusal."""
        self.sequence += 1
        request = message(family_id, NLM_F_REQUEST | (NLM_F_DUMP if dump else 0), self.sequence,
                          GENL_HEADER.pack(command, version, 0) + body)
        answer = self.exchange(request, family_id, dump=dump)
        if isinstance(answer, int):
            return answer
        return [payload[GENL_HEADER.size:] for payload in answer]
