# -*- coding: utf-8 -*-
# Copyright: mptcp.multipath contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure logic of mptcp_preflight: refuse a configuration that cannot work
and name what would silently not work, before anything is changed."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ipaddress

from ansible_collections.mptcp.multipath.plugins.module_utils._common import MptcpError
from ansible_collections.mptcp.multipath.plugins.module_utils._endpoint_flags import USER_FLAGS, flag_problems
from ansible_collections.mptcp.multipath.plugins.module_utils._endpoints import MAX_ENDPOINTS, parse_address

LIMIT_NAMES = ("subflows", "add_addr_accepted")
LIMIT_MAX = 8
NM_ONLY_FLAGS = ("also-without-default-route", "also-without-sysctl")


def check_limits(limits):
    for name in LIMIT_NAMES:
        value = (limits or {}).get(name)
        if value is not None and not 0 <= value <= LIMIT_MAX:
            raise MptcpError("limit %s=%s is out of range: MPTCP limits go from 0 to %d" % (name, value, LIMIT_MAX))
    unknown = sorted(set(limits or {}) - set(LIMIT_NAMES))
    if unknown:
        raise MptcpError("unknown limit(s) %s; known: %s" % (", ".join(unknown), ", ".join(LIMIT_NAMES)))


def resolve_backend(backend, namespace, nm_running):
    if backend == "auto":
        return "networkmanager" if nm_running and not namespace else "runtime"
    if backend == "networkmanager" and namespace:
        raise MptcpError("endpoints in a network namespace (%s) can only be runtime ones, not networkmanager" % namespace)
    return backend


def check_endpoints(endpoints, backend, interfaces, kernel):
    """Errors for endpoints that cannot be made with this backend."""
    if len(endpoints) > MAX_ENDPOINTS and backend == "runtime":
        raise MptcpError("%d endpoints listed; the kernel allows at most %d" % (len(endpoints), MAX_ENDPOINTS))
    for index, endpoint in enumerate(endpoints):
        label = endpoint.get("address") or endpoint.get("interface") or endpoint.get("profile") or "#%d" % (index + 1)
        flags = list(endpoint.get("flags") or [])
        known = USER_FLAGS + (NM_ONLY_FLAGS if backend == "networkmanager" else ())
        unknown = [flag for flag in flags if flag not in known]
        if unknown:
            raise MptcpError("endpoint %s: flag(s) %s not possible with the %s backend; possible: %s"
                             % (label, ", ".join(unknown), backend, ", ".join(known)))
        kernel_flags = [flag for flag in flags if flag in USER_FLAGS]
        port = endpoint.get("port") if backend == "runtime" else None
        problems = flag_problems(kernel_flags, port=port, kernel=kernel)
        if problems:
            raise MptcpError("endpoint %s: %s" % (label, "; ".join(problems)))
        interface = endpoint.get("interface")
        if interface and interface not in interfaces:
            raise MptcpError("endpoint %s: interface %r does not exist here; interfaces: %s"
                             % (label, interface, ", ".join(sorted(interfaces))))
        if backend == "runtime":
            if not endpoint.get("address"):
                raise MptcpError("endpoint %s: runtime endpoints need an address" % label)
            parse_address(endpoint["address"])
        elif not (interface or endpoint.get("profile")):
            raise MptcpError("endpoint %s: networkmanager endpoints need an interface or a profile" % label)


def advice(endpoints, backend, limits, peer_signal_count, default_route_interfaces):
    """Warnings about settings that are valid but will not do what they seem to."""
    warnings = []
    subflow_endpoints = [endpoint for endpoint in endpoints if "subflow" in (endpoint.get("flags") or [])]
    subflows = limits.get("subflows")
    if subflows is not None and len(subflow_endpoints) > subflows:
        warnings.append("%d subflow endpoints but a subflows limit of %d: each connection opens at most %d "
                        "additional subflows" % (len(subflow_endpoints), subflows, subflows))
    accepted = limits.get("add_addr_accepted")
    # One announced address may be the one the connection already uses, so
    # only a limit below the others is sure to leave announcements unused.
    if accepted is not None and peer_signal_count and (accepted == 0 or accepted < peer_signal_count - 1):
        warnings.append("the peers announce %d address(es) (signal endpoints) but add_addr_accepted is %d: "
                        "this host will not open subflows to %s" % (
                            peer_signal_count, accepted, "them" if accepted == 0 else "all of them"))
    families = set(ipaddress.ip_address(endpoint["address"]).version
                   for endpoint in endpoints if endpoint.get("address"))
    if len(families) > 1:
        warnings.append("endpoints mix IPv4 and IPv6: a connection only uses endpoints of its own family")
    if backend == "networkmanager":
        for endpoint in endpoints:
            interface = endpoint.get("interface")
            flags = endpoint.get("flags") or []
            if interface and interface not in default_route_interfaces and "also-without-default-route" not in flags:
                warnings.append("interface %s has no default route: NetworkManager makes no endpoints for it "
                                "unless its flags include also-without-default-route" % interface)
    return warnings


def normalize_endpoints(endpoints, backend, default_flags):
    """The endpoints in the form the backend's module takes: mptcp_endpoint's
    (address, dev, id, port, flags) or mptcp_nm_profile's (interface or
    profile, flags); flags default to ``default_flags``."""
    result = []
    for endpoint in endpoints:
        flags = endpoint.get("flags")
        flags = list(default_flags if flags is None else flags)
        if backend == "runtime":
            item = {"address": endpoint.get("address"), "dev": endpoint.get("interface"),
                    "id": endpoint.get("id"), "port": endpoint.get("port"), "flags": flags}
        else:
            item = {"interface": endpoint.get("interface"), "profile": endpoint.get("profile"), "flags": flags}
        result.append(dict((key, value) for key, value in item.items() if value is not None))
    return result
