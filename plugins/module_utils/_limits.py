# -*- coding: utf-8 -*-
# Copyright: mptcp.multipath contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The MPTCP path manager limits: their names and range, in this one place
(mptcp_limits, mptcp_preflight and, through them, the role read it), and
reading them with the standard library's netlink socket: mptcp_preflight
reads them on every run, and importing pyroute2 (its 0.7 package loads
every part of it) costs a host more than the whole read."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import os
import socket
import struct

from ansible_collections.mptcp.multipath.plugins.module_utils._common import ClosesSocket, MptcpError
from ansible_collections.mptcp.multipath.plugins.module_utils._monitor import (
    FAMILY_NAME,
    GENL_ID_CTRL,
    NETLINK_GENERIC,
    family_request,
    parse_family_reply,
)
from ansible_collections.mptcp.multipath.plugins.module_utils._nlmsg import (
    NLMSG_DONE,
    NLMSG_ERROR,
    NLM_F_REQUEST,
    error_code,
    message,
    parse_attributes,
    split_messages,
)

# net/mptcp/pm_kernel.c: MPTCP_PM_ADDR_MAX; a request with a larger value is refused whole.
LIMIT_NAMES = ("subflows", "add_addr_accepted")
LIMIT_MIN, LIMIT_MAX = 0, 8


def check_limits(limits, name=None):
    """The limits that are set (None values dropped), or an error naming the
    value out of range; ``name`` (e.g. ``mptcp_limits``) prefixes the keys.
    The callers' argument specs have checked the names and made the values
    integers."""
    where = (name + ".") if name else ""
    wanted = dict((key, value) for key, value in (limits or {}).items() if value is not None)
    for key, value in sorted(wanted.items()):
        if not LIMIT_MIN <= value <= LIMIT_MAX:
            raise MptcpError("%s%s=%s is out of range: MPTCP limits go from %d to %d"
                             % (where, key, value, LIMIT_MIN, LIMIT_MAX))
    return wanted


# include/uapi/linux/mptcp_pm.h
MPTCP_PM_CMD_GET_LIMITS = 6
MPTCP_PM_ATTR_RCV_ADD_ADDRS = 2
MPTCP_PM_ATTR_SUBFLOWS = 3
MPTCP_PM_VER = 1
_GENL = struct.Struct("=BBH")
_U32 = struct.Struct("=I")


def parse_limits(payload):
    """{subflows, add_addr_accepted} of a MPTCP_PM_CMD_GET_LIMITS reply (after its genl header)."""
    attributes = dict(parse_attributes(payload, _GENL.size))
    found = {}
    for name, kind in (("subflows", MPTCP_PM_ATTR_SUBFLOWS), ("add_addr_accepted", MPTCP_PM_ATTR_RCV_ADD_ADDRS)):
        if len(attributes.get(kind, b"")) >= _U32.size:
            found[name] = _U32.unpack_from(attributes[kind])[0]
    return found


class KernelLimits(ClosesSocket):
    """The running kernel's limits of the current network namespace, read
    over a generic netlink socket (what ``ip mptcp limits show`` asks)."""

    def __init__(self):
        try:
            self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
        except OSError as exc:
            raise MptcpError("cannot open a generic netlink socket: %s" % exc.strerror)
        self.sock.bind((0, 0))
        self.sock.settimeout(5)

    def _ask(self, kind, request):
        """The payload of the reply of type ``kind`` to one request, or the errno of a refusal."""
        self.sock.sendto(request, (0, 0))
        try:
            while True:
                for reply, payload in split_messages(self.sock.recv(65536)):
                    if reply == NLMSG_ERROR and error_code(payload):
                        return error_code(payload)
                    if reply == kind:
                        return payload
                    if reply == NLMSG_DONE:
                        return None
        except socket.timeout:
            raise MptcpError("no answer from the kernel's generic netlink %s family" % FAMILY_NAME)

    def limits(self):
        answer = self._ask(GENL_ID_CTRL, family_request(sequence=1))
        family = parse_family_reply(answer)[0] if isinstance(answer, bytes) else None
        if family is None:
            code = answer if isinstance(answer, int) else errno.ENOENT
            raise MptcpError("cannot open the kernel's MPTCP path manager (generic netlink family %s): %s; is MPTCP "
                             "built into this kernel?" % (FAMILY_NAME, os.strerror(code)))
        answer = self._ask(family, message(family, NLM_F_REQUEST, 2, _GENL.pack(MPTCP_PM_CMD_GET_LIMITS, MPTCP_PM_VER, 0)))
        if not isinstance(answer, bytes):
            raise MptcpError("the kernel refused to read limits: %s" % os.strerror(answer or errno.EPROTO))
        return parse_limits(answer)
