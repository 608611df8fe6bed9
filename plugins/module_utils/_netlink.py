# -*- coding: utf-8 -*-
# Copyright: mptcp.multipath contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The kernel's MPTCP path manager (generic netlink family ``mptcp_pm``)
through pyroute2's MPTCP socket: endpoints and limits.

Written against pyroute2 0.7 (Debian 12) and 0.9. pyroute2 has no wrapper
for MPTCP_PM_CMD_SET_FLAGS, so that message is built here; it types the
ifindex attribute as 'hex', so the index is packed and unpacked here."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import ipaddress
import socket
import struct
import traceback
from contextlib import contextmanager

from ansible_collections.mptcp.multipath.plugins.module_utils._common import ClosesSocket, MptcpError
from ansible_collections.mptcp.multipath.plugins.module_utils._endpoint_flags import (
    decode_flags,
    encode_flags,
)
from ansible_collections.mptcp.multipath.plugins.module_utils._pyroute2 import (
    NO_MPTCP,
    TOO_OLD,
    installed_version,
    too_old,
    unsupported_message,
)

# HAS_PYROUTE2: pyroute2 can be imported at all (else modules report it as a
# missing library). PYROUTE2_UNSUPPORTED: it can, but is too old; every use of
# the MPTCP socket then fails with that message, which names the version needed.
PYROUTE2_VERSION = None
PYROUTE2_UNSUPPORTED = None
try:
    from pyroute2 import IPRoute
    from pyroute2.netlink import NLA_F_NESTED, NLM_F_ACK, NLM_F_REQUEST
    from pyroute2.netlink.rtnl.ifaddrmsg import IFA_F_DADFAILED, IFA_F_TENTATIVE
    from pyroute2.netlink.exceptions import NetlinkError
except ImportError:
    HAS_PYROUTE2 = False
    PYROUTE2_IMPORT_ERROR = traceback.format_exc()
    NetlinkError = OSError  # only so that the except clauses below stay valid
else:
    HAS_PYROUTE2 = True
    PYROUTE2_IMPORT_ERROR = None
    PYROUTE2_VERSION = installed_version()
    try:
        from pyroute2 import MPTCP
        from pyroute2.netlink.generic.mptcp import MPTCP_PM_CMD_SET_FLAGS, mptcp_msg
    except ImportError:
        MPTCP = mptcp_msg = MPTCP_PM_CMD_SET_FLAGS = None  # never used: MptcpNetlink refuses first
        PYROUTE2_UNSUPPORTED = unsupported_message(PYROUTE2_VERSION, NO_MPTCP)
    else:
        if too_old(PYROUTE2_VERSION):
            PYROUTE2_UNSUPPORTED = unsupported_message(PYROUTE2_VERSION, TOO_OLD)
# What a check before any change (mptcp_preflight, the roles) should test.
PYROUTE2_USABLE = HAS_PYROUTE2 and not PYROUTE2_UNSUPPORTED

_ERRNO_TEXT = {
    errno.EPERM: "permission denied: changing MPTCP settings needs CAP_NET_ADMIN (run the task with become)",
    errno.ERANGE: "the kernel allows at most 8 endpoints per network namespace",
    errno.EADDRNOTAVAIL: "the address is not configured on this host (a signal endpoint with a port must use a local address)",
}


def _netlink_error_text(exc):
    code = exc.code if hasattr(exc, "code") else exc.args[0]
    text = _ERRNO_TEXT.get(code)
    if text is None:
        detail = exc.args[1] if len(exc.args) > 1 else ""
        text = "%s (errno %s%s)" % (
            errno.errorcode.get(code, "E?"), code, ": %s" % detail if detail else "")
    return code, text


@contextmanager
def _kernel_call(what):
    """Turn a netlink error into an MptcpError that says what was being done."""
    try:
        yield
    except NetlinkError as exc:
        code, text = _netlink_error_text(exc)
        raise MptcpError("kernel refused to %s: %s" % (what, text), errno=code)


def usable_addresses():
    """{address: {interface names}} of the addresses a subflow can use now:
    not tentative and not failed duplicate detection (IPv6), on an interface
    that is up (or "unknown", e.g. a tun without carrier state)."""
    ipr = IPRoute()
    try:
        up = dict((link["index"], link.get_attr("IFLA_IFNAME")) for link in ipr.get_links()
                  if link.get_attr("IFLA_OPERSTATE") in ("UP", "UNKNOWN"))
        result = {}
        for message in ipr.get_addr():
            flags = message.get_attr("IFA_FLAGS") or message["flags"]
            # IFA_LOCAL is the local side of a point-to-point IPv4 address; IPv6 has IFA_ADDRESS only
            address = message.get_attr("IFA_LOCAL") or message.get_attr("IFA_ADDRESS")
            if address and message["index"] in up and not flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED):
                result.setdefault(str(ipaddress.ip_address(address)), set()).add(up[message["index"]])
        return result
    finally:
        ipr.close()


def _address_attrs(address):
    ip = ipaddress.ip_address(address)
    if ip.version == 4:
        return [("MPTCP_PM_ADDR_ATTR_FAMILY", socket.AF_INET), ("MPTCP_PM_ADDR_ATTR_ADDR4", str(ip))]
    return [("MPTCP_PM_ADDR_ATTR_FAMILY", socket.AF_INET6), ("MPTCP_PM_ADDR_ATTR_ADDR6", str(ip))]


def _decode_ifindex(value):
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        value = bytes.fromhex(value.replace(":", ""))
    return struct.unpack("=i", bytes(value)[:4])[0]


class MptcpNetlink(ClosesSocket):
    """Endpoints and limits of the current network namespace."""

    def __init__(self):
        if PYROUTE2_UNSUPPORTED:
            raise MptcpError(PYROUTE2_UNSUPPORTED)
        try:
            self.sock = MPTCP()
        except (NetlinkError, OSError) as exc:
            raise MptcpError(
                "cannot open the kernel's MPTCP path manager (generic netlink family mptcp_pm); "
                "is MPTCP built into this kernel? (%s)" % exc)

    def endpoints(self):
        """All endpoints, sorted by id, as plain dicts."""
        names = dict(socket.if_nameindex())
        result = []
        with _kernel_call("list endpoints"):
            messages = self.sock.endpoint("show")
        for message in messages:
            attrs = dict(message.get_attr("MPTCP_PM_ATTR_ADDR")["attrs"])
            address = attrs.get("MPTCP_PM_ADDR_ATTR_ADDR4") or attrs.get("MPTCP_PM_ADDR_ATTR_ADDR6")
            ifindex = _decode_ifindex(attrs.get("MPTCP_PM_ADDR_ATTR_IF_IDX"))
            result.append({
                "id": attrs.get("MPTCP_PM_ADDR_ATTR_ID"),
                "address": str(ipaddress.ip_address(address)),
                "port": attrs.get("MPTCP_PM_ADDR_ATTR_PORT") or 0,
                "flags": decode_flags(attrs.get("MPTCP_PM_ADDR_ATTR_FLAGS", 0)),
                "ifindex": ifindex,
                "dev": names.get(ifindex) if ifindex else None,
            })
        return sorted(result, key=lambda endpoint: endpoint["id"])

    def add_endpoint(self, address, endpoint_id=None, port=0, flags=(), ifindex=0):
        attrs = dict((name.replace("MPTCP_PM_ADDR_ATTR_", "").lower(), value)
                     for name, value in _address_attrs(address))
        attrs["flags"] = encode_flags(flags)
        if endpoint_id:
            attrs["id"] = endpoint_id
        if port:
            attrs["port"] = port
        if ifindex:
            attrs["if_idx"] = struct.pack("=i", ifindex)
        with _kernel_call("add endpoint %s" % address):
            self.sock.endpoint("add", **attrs)

    def delete_endpoint(self, endpoint_id):
        with _kernel_call("delete endpoint id %s" % endpoint_id):
            self.sock.endpoint("del", id=endpoint_id)

    def set_endpoint_flags(self, endpoint_id, address, flags):
        """Change backup/fullmesh of a live endpoint; the new flags replace the old."""
        msg = mptcp_msg()
        msg["cmd"] = MPTCP_PM_CMD_SET_FLAGS
        msg["version"] = 1
        attrs = _address_attrs(address) + [
            ("MPTCP_PM_ADDR_ATTR_ID", endpoint_id),
            ("MPTCP_PM_ADDR_ATTR_FLAGS", encode_flags(flags)),
        ]
        msg["attrs"] = [("MPTCP_PM_ATTR_ADDR", {"attrs": attrs}, NLA_F_NESTED)]
        with _kernel_call("change flags of endpoint id %s" % endpoint_id):
            self.sock.nlm_request(msg, msg_type=self.sock.prid, msg_flags=NLM_F_REQUEST | NLM_F_ACK)

    def apply(self, actions):
        """Carry out a plan of ``_endpoints`` (plan_present, plan_absent, plan_sync)."""
        for action in actions:
            endpoint = action["endpoint"]
            if action["action"] == "delete":
                self.delete_endpoint(endpoint["id"])
            elif action["action"] == "set_flags":
                self.set_endpoint_flags(endpoint["id"], endpoint["address"], endpoint["flags"])
            else:
                self.add_endpoint(endpoint["address"], endpoint_id=endpoint["id"], port=endpoint["port"],
                                  flags=endpoint["flags"], ifindex=endpoint["ifindex"])

    def limits(self):
        with _kernel_call("read limits"):
            message = self.sock.limits("show")[0]
        return {
            "subflows": message.get_attr("MPTCP_PM_ATTR_SUBFLOWS"),
            "add_addr_accepted": message.get_attr("MPTCP_PM_ATTR_RCV_ADD_ADDRS"),
        }

    def set_limits(self, **limits):
        """Set only the limits given (subflows, add_addr_accepted); the
        kernel keeps the others."""
        wanted = dict((key, value) for key, value in limits.items() if value is not None)
        if wanted:
            with _kernel_call("set limits %s" % ", ".join("%s=%s" % item for item in sorted(wanted.items()))):
                self.sock.limits("set", **wanted)
