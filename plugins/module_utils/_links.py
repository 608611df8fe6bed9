# -*- coding: utf-8 -*-
# Copyright: mptcp.multipath contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host's links as MPTCP sees them: the addresses each interface has,
which of them can be endpoints, which interfaces hold a default route, and
the kernel's endpoints as iproute2 lists them.

Read with ``ip -j`` (iproute2, present wherever the collection works), not
pyroute2, so that checks run on a host that has no pyroute2 yet (check mode
on a fresh host)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ipaddress
import json

from ansible_collections.mptcp.multipath.plugins.module_utils._common import MptcpError
from ansible_collections.mptcp.multipath.plugins.module_utils._endpoint_flags import FLAG_BITS, decode_flags

ULA_NETWORK = ipaddress.ip_network("fc00::/7")


def ip_json(run_command, argv):
    """What an ``ip -j`` command prints, parsed; an error names the command."""
    rc, stdout, stderr = run_command(argv)
    if rc != 0:
        raise MptcpError("%s failed (rc=%d): %s" % (" ".join(argv), rc, (stderr or stdout).strip()))
    try:
        return json.loads(stdout or "[]")
    except ValueError:
        raise MptcpError("%s printed no JSON: %r" % (" ".join(argv), (stdout or "")[:200]))


def endpoint_candidate(entry):
    """Whether an address can be an MPTCP endpoint the way NetworkManager
    chooses them: not loopback, not link-local, not an IPv6 unique-local or
    temporary (privacy) address."""
    address = ipaddress.ip_address(u"%s" % entry["address"])
    if address.is_loopback or address.is_link_local or entry.get("scope") not in (None, "global"):
        return False
    if address.version == 6 and (address in ULA_NETWORK or entry.get("temporary")):
        return False
    return True


def parse_addresses(data):
    """``ip -j address show`` output -> [{interface, address, prefix,
    family, scope, temporary, tentative (or failed duplicate detection),
    noprefixroute (how NetworkManager adds its addresses),
    endpoint_candidate}], in the kernel's order."""
    result = []
    for link in data:
        for info in link.get("addr_info", []):
            if info.get("family") not in ("inet", "inet6") or "local" not in info:
                continue
            entry = {
                "interface": link.get("ifname"),
                "address": info["local"],
                "prefix": info.get("prefixlen"),
                "family": "ipv4" if info["family"] == "inet" else "ipv6",
                "scope": info.get("scope"),
                "temporary": bool(info.get("temporary")),
                "tentative": bool(info.get("tentative") or info.get("dadfailed")),
                "noprefixroute": bool(info.get("noprefixroute")),
            }
            entry["endpoint_candidate"] = endpoint_candidate(entry)
            result.append(entry)
    return result


def addresses(run_command, ip_binary="ip"):
    return parse_addresses(ip_json(run_command, [ip_binary, "-j", "address", "show"]))


def default_route_interfaces(run_command, ip_binary="ip"):
    """Interfaces that hold a default route of either family."""
    interfaces = set()
    for family in ("-4", "-6"):
        for route in ip_json(run_command, [ip_binary, "-j", family, "route", "show", "default"]):
            if route.get("dev"):
                interfaces.add(route["dev"])
            for hop in route.get("nexthops", []):
                if hop.get("dev"):
                    interfaces.add(hop["dev"])
    return interfaces


def parse_endpoints(data):
    """``ip -j mptcp endpoint show`` output -> [{id, address, port, dev,
    flags}]; iproute2 prints each known flag as a boolean and the other bits
    as rawflags."""
    endpoints = []
    for entry in data:
        bits = sum(bit for name, bit in FLAG_BITS.items() if entry.get(name) is True)
        if entry.get("rawflags"):
            bits |= int(str(entry["rawflags"]), 16)
        endpoints.append({"id": entry.get("id"), "address": str(ipaddress.ip_address(u"%s" % entry["address"])),
                          "port": entry.get("port") or 0, "dev": entry.get("dev"), "flags": decode_flags(bits)})
    return endpoints


def endpoints(run_command, ip_binary="ip"):
    """The kernel's endpoints read with iproute2 (no pyroute2 needed)."""
    return parse_endpoints(ip_json(run_command, [ip_binary, "-j", "mptcp", "endpoint", "show"]))
