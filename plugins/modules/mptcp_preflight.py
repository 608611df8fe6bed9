#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mptcp.multipath contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: mptcp_preflight
short_description: Check an MPTCP configuration before it is applied
version_added: 0.1.0
description:
  - Validates limits and endpoints against this host (its interfaces, kernel and NetworkManager) and fails,
    naming the bad value, on anything that cannot work, so that a play can stop before its first change.
  - Warns about settings that are valid but silently do nothing. These are more subflow endpoints than the
    subflows limit, peers that announce addresses this host will not accept (C(add_addr_accepted)),
    endpoints of mixed address families, and NetworkManager interfaces without a default route and without
    C(also-without-default-route).
  - Resolves O(backend=auto) to V(networkmanager) when NetworkManager runs on the host, else V(runtime).
    Fails when O(backend=networkmanager) is asked for and NetworkManager does not run, since no profile
    could then be changed.
  - Reports whether pyroute2 and iproute2 are there (RV(requirements)).
  - The M(mptcp.multipath.mptcp) role runs it first. It changes nothing and needs no pyroute2.
author:
  - mptcp.multipath developers (@mptcp-multipath)
extends_documentation_fragment:
  - mptcp.multipath.namespace
attributes:
  check_mode:
    support: full
    description: Only reads; runs the same in check mode.
  diff_mode:
    support: none
    description: Changes nothing, so there is nothing to diff.
options:
  limits:
    description:
      - The limits the configuration will set, C(subflows) and C(add_addr_accepted), each 0 to 8.
        Limits left out are taken from the running kernel for the warnings.
    type: dict
    default: {}
  endpoints:
    description:
      - The endpoints the configuration will make. Keys C(address), C(interface), C(profile), C(id),
        C(port) and C(flags), as the M(mptcp.multipath.mptcp) role takes them.
      - Runtime endpoints need C(address); NetworkManager ones need C(interface) or C(profile) and may also
        use the NetworkManager-only flags C(also-without-default-route) and C(also-without-sysctl).
    type: list
    elements: dict
    default: []
  backend:
    description:
      - How endpoints will be made. V(runtime) with M(mptcp.multipath.mptcp_endpoint),
        V(networkmanager) with M(mptcp.multipath.mptcp_nm_profile), V(auto) chooses.
    type: str
    choices: [auto, networkmanager, runtime]
    default: auto
  default_flags:
    description:
      - Flags for the endpoints that have no C(flags) key.
    type: list
    elements: str
    default: []
  state:
    description:
      - V(disabled) checks only that the endpoints can be found (to revert them) and gives no advice.
    type: str
    choices: [enabled, disabled]
    default: enabled
  peer_signal_count:
    description:
      - How many addresses the peers of this host announce (their V(signal) endpoints), to warn when
        C(add_addr_accepted) is lower.
    type: int
    default: 0
"""

EXAMPLES = r"""
- name: Check the seed's 34.4 client configuration before applying it
  mptcp.multipath.mptcp_preflight:
    limits:
      subflows: 3
    endpoints:
      - interface: enp4s0f1
        flags: [signal, subflow, also-without-default-route]
    backend: networkmanager
  register: mptcp_plan
"""

RETURN = r"""
backend:
  description: The backend to use (V(auto) resolved).
  returned: always
  type: str
  sample: networkmanager
advice:
  description: The warnings, also shown as Ansible warnings.
  returned: always
  type: list
  elements: str
  sample: ["3 subflow endpoints but a subflows limit of 2: each connection opens at most 2 additional subflows"]
limits:
  description: The limits the warnings were computed with (given ones, else the running kernel's).
  returned: always
  type: dict
  sample: {subflows: 2, add_addr_accepted: 0}
endpoints:
  description:
    - The endpoints with O(default_flags) applied, in the form the backend's module takes them
      (M(mptcp.multipath.mptcp_endpoint) keys for V(runtime), C(interface)/C(profile) and C(flags) for
      V(networkmanager)).
  returned: always
  type: list
  elements: dict
  sample: [{interface: enp4s0f1, flags: [signal, subflow, also-without-default-route]}]
networkmanager_running:
  description: Whether NetworkManager runs on the host.
  returned: always
  type: bool
  sample: true
requirements:
  description:
    - What the other modules need on this host and whether it is there, so that a play can install only
      what is missing, and in check mode tell what it would install instead of failing.
  returned: always
  type: dict
  contains:
    pyroute2:
      description: Whether pyroute2 can be imported by the Python that runs the modules.
      type: bool
    iproute2:
      description: Whether the C(ip) command exists.
      type: bool
  sample: {pyroute2: true, iproute2: true}
"""

import re
import socket

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mptcp.multipath.plugins.module_utils._common import MptcpError, enter_namespace, run_module
from ansible_collections.mptcp.multipath.plugins.module_utils._links import default_route_interfaces
from ansible_collections.mptcp.multipath.plugins.module_utils._netlink import HAS_PYROUTE2
from ansible_collections.mptcp.multipath.plugins.module_utils._endpoint_flags import kernel_version
from ansible_collections.mptcp.multipath.plugins.module_utils._preflight import (
    advice,
    check_endpoints,
    check_limits,
    normalize_endpoints,
    resolve_backend,
)


class PreflightModule(object):

    def __init__(self, module):
        self.module = module
        self.params = module.params

    def command(self, argv):
        """Output of a read-only command, or None when it is missing or fails."""
        binary = self.module.get_bin_path(argv[0])
        if not binary:
            return None
        rc, stdout, _stderr = self.module.run_command([binary] + argv[1:], environ_update={"LC_ALL": "C"})
        return stdout if rc == 0 else None

    def networkmanager_running(self):
        return (self.command(["nmcli", "-t", "-f", "RUNNING", "general", "status"]) or "").strip() == "running"

    def kernel_limits(self):
        text = self.command(["ip", "mptcp", "limits", "show"]) or ""
        return dict((name, int(value)) for name, value in re.findall(r"(subflows|add_addr_accepted) (\d+)", text))

    def run(self):
        check_limits(self.params["limits"])
        enter_namespace(self.params["namespace"])
        nm_running = False if self.params["namespace"] else self.networkmanager_running()
        backend = resolve_backend(self.params["backend"], self.params["namespace"], nm_running)
        endpoints = [dict(endpoint, flags=self.params["default_flags"] if endpoint.get("flags") is None
                          else endpoint["flags"]) for endpoint in self.params["endpoints"]]
        check_endpoints(endpoints, backend, set(name for _index, name in socket.if_nameindex()), kernel_version())
        limits = dict(self.kernel_limits(), **dict((key, value) for key, value in self.params["limits"].items()
                                                   if value is not None))
        if backend == "networkmanager" and not nm_running:
            # Fatal here, not at the first profile task: by then the sysctl
            # file, the limits and their unit would already have been changed.
            raise MptcpError(
                "mptcp_endpoints_backend is networkmanager but NetworkManager is not running on this host: "
                "start it (systemctl start NetworkManager), or choose mptcp_endpoints_backend=runtime")
        warnings = []
        if self.params["state"] == "enabled":
            default_routes = set()
            if backend == "networkmanager":
                default_routes = default_route_interfaces(self.module.run_command, self.ip_binary())
            warnings = advice(endpoints, backend, limits, self.params["peer_signal_count"], default_routes)
        for warning in warnings:
            self.module.warn(warning)
        return {"changed": False, "backend": backend, "advice": warnings, "limits": limits,
                "endpoints": normalize_endpoints(endpoints, backend, self.params["default_flags"]),
                "networkmanager_running": nm_running,
                "requirements": {"pyroute2": HAS_PYROUTE2, "iproute2": bool(self.module.get_bin_path("ip"))}}

    def ip_binary(self):
        binary = self.module.get_bin_path("ip")
        if not binary:
            raise MptcpError("the ip command (iproute2) is not installed on this host")
        return binary


def main():
    module = AnsibleModule(
        argument_spec=dict(
            limits=dict(type="dict", default={}),
            endpoints=dict(type="list", elements="dict", default=[]),
            backend=dict(type="str", choices=["auto", "networkmanager", "runtime"], default="auto"),
            default_flags=dict(type="list", elements="str", default=[]),
            state=dict(type="str", choices=["enabled", "disabled"], default="enabled"),
            peer_signal_count=dict(type="int", default=0),
            namespace=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    run_module(module, PreflightModule(module).run)


if __name__ == "__main__":
    main()
