#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mptcp.multipath contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: mptcp_info
short_description: Report the MPTCP state of a host or network namespace
version_added: 0.1.0
description:
  - Gathers, as structured data, what an operator otherwise reads by eye from C(sysctl -a | grep mptcp),
    C(ip mptcp limits show), C(ip mptcp endpoint show), C(nstat MPTcp*) and C(ss -Mni).
  - Connections come from the kernel's sock_diag interface, counters from C(/proc/net/netstat), the limits and
    endpoints from the path manager's generic netlink family, all read with Python's standard library; no command
    output is parsed, and pyroute2 is not needed.
author:
  - mptcp.multipath developers (@mptcp-multipath)
extends_documentation_fragment:
  - mptcp.multipath.namespace
  - mptcp.multipath.attributes.read_only
options:
  gather:
    description:
      - Which parts to gather.
    type: list
    elements: str
    choices: [sysctls, limits, endpoints, counters, connections, interfaces, addresses]
    default: [sysctls, limits, endpoints, counters, connections, interfaces, addresses]
seealso:
  - module: mptcp.multipath.mptcp_endpoint
  - module: mptcp.multipath.mptcp_limits
  - module: mptcp.multipath.mptcp_sysctl
"""

EXAMPLES = r"""
- name: Read the MPTCP state
  mptcp.multipath.mptcp_info:
  register: mptcp

- name: Show the subflows of every established MPTCP connection
  ansible.builtin.debug:
    msg: "{{ item.local_address }} -> {{ item.remote_address }}: {{ item.subflows }} extra subflow(s)"
  loop: "{{ mptcp.connections | selectattr('state', 'equalto', 'established') }}"

- name: Check that a join happened, from the counters only
  mptcp.multipath.mptcp_info:
    gather: [counters]
  register: mptcp_counters
  failed_when: mptcp_counters.counters.MPJoinAckRx | default(0) == 0
"""

RETURN = r"""
enabled:
  description: Whether C(net.mptcp.enabled) is 1.
  returned: when O(gather) has V(sysctls)
  type: bool
  sample: true
sysctls:
  description: Every C(net.mptcp.*) sysctl of this kernel, by short name.
  returned: when O(gather) has V(sysctls)
  type: dict
  sample: {enabled: "1", path_manager: kernel, scheduler: default, add_addr_timeout: "120"}
limits:
  description: The path manager limits.
  returned: when O(gather) has V(limits)
  type: dict
  sample: {subflows: 2, add_addr_accepted: 0}
endpoints:
  description: The endpoints, with decoded flags and interface names.
  returned: when O(gather) has V(endpoints)
  type: list
  elements: dict
  sample:
    - {id: 1, address: 198.51.100.1, port: 0, flags: [signal], dev: enp1s0, ifindex: 3}
counters:
  description: The MPTcpExt counters of C(/proc/net/netstat) (what C(nstat) prints), without the prefix.
  returned: when O(gather) has V(counters)
  type: dict
  sample: {MPCapableSYNRX: 1, MPJoinSynRx: 1, MPJoinAckRx: 1, AddAddr: 1}
interfaces:
  description: Bytes received and sent by each interface (C(/proc/net/dev)), to tell how much each link carried.
  returned: when O(gather) has V(interfaces)
  type: dict
  sample: {enp4s0f0: {rx_bytes: 1048576, tx_bytes: 4526835}}
addresses:
  description:
    - Every IPv4 and IPv6 address of every interface (from C(ip -j address show)).
    - C(endpoint_candidate) tells whether the address can be an endpoint the way NetworkManager picks
      them. Loopback, link-local, IPv6 unique-local (C(fc00::/7)) and temporary (privacy) addresses cannot.
    - C(tentative) is true while IPv6 duplicate address detection runs or after it failed;
      C(noprefixroute) marks the addresses NetworkManager configured.
  returned: when O(gather) has V(addresses)
  type: list
  elements: dict
  sample:
    - {interface: enp4s0f0, address: 192.0.2.2, prefix: 24, family: ipv4, scope: global, temporary: false,
       tentative: false, noprefixroute: true, endpoint_candidate: true}
connections:
  description:
    - The MPTCP sockets, listeners included, with the kernel's C(mptcp_info) for each.
    - C(subflows) counts the additional subflows, so a connection over two paths shows 1.
  returned: when O(gather) has V(connections)
  type: list
  elements: dict
  contains:
    family:
      description: V(ipv4) or V(ipv6).
      type: str
    state:
      description: TCP-style state, for example V(established) or V(listen).
      type: str
    local_address:
      description: Local address of the initial subflow.
      type: str
    local_port:
      description: Local port.
      type: int
    remote_address:
      description: Remote address of the initial subflow.
      type: str
    remote_port:
      description: Remote port.
      type: int
    token:
      description: The connection token, as C(ip mptcp monitor) prints it.
      type: str
    subflows:
      description: Additional subflows in use.
      type: int
    subflows_max:
      description: The subflow limit this connection got.
      type: int
    add_addr_signal:
      description: Addresses announced to the peer.
      type: int
    add_addr_accepted:
      description: Announced addresses accepted from the peer.
      type: int
    fallback:
      description: Whether the connection fell back to plain TCP.
      type: bool
    bytes_sent:
      description: Bytes sent at the MPTCP level (kernel 6.3+).
      type: int
    bytes_received:
      description: Bytes received at the MPTCP level (kernel 6.3+).
      type: int
  sample:
    - {family: ipv4, state: established, local_address: 192.0.2.2, local_port: 36444,
       remote_address: 192.0.2.1, remote_port: 12345, token: 63c070d2, subflows: 1, fallback: false}
"""

from ansible_collections.mptcp.multipath.plugins.module_utils._argspec import namespace_argspec
from ansible_collections.mptcp.multipath.plugins.module_utils._common import (
    enter_namespace,
    run_module,
)
from ansible_collections.mptcp.multipath.plugins.module_utils._diag import (
    connections,
    counters,
    interface_bytes,
)
from ansible_collections.mptcp.multipath.plugins.module_utils._links import addresses
from ansible_collections.mptcp.multipath.plugins.module_utils._pm import PathManager
from ansible_collections.mptcp.multipath.plugins.module_utils._sysctl import (
    available_keys,
    read_runtime,
)

PARTS = ("sysctls", "limits", "endpoints", "counters", "connections", "interfaces", "addresses")
PATH_MANAGER_PARTS = ("limits", "endpoints")


class InfoModule(object):

    def __init__(self, module):
        self.module = module
        self.gather = module.params["gather"]

    def run(self):
        enter_namespace(self.module.params["namespace"])
        result = {"changed": False}
        if "sysctls" in self.gather:
            result["sysctls"] = dict((key, read_runtime(key)) for key in available_keys())
            result["enabled"] = result["sysctls"].get("enabled") == "1"
        if any(part in self.gather for part in PATH_MANAGER_PARTS):
            with PathManager() as kernel:
                if "limits" in self.gather:
                    result["limits"] = kernel.limits()
                if "endpoints" in self.gather:
                    result["endpoints"] = kernel.endpoints()
        if "counters" in self.gather:
            result["counters"] = counters()
        if "connections" in self.gather:
            result["connections"] = connections()
        if "interfaces" in self.gather:
            result["interfaces"] = interface_bytes()
        if "addresses" in self.gather:
            result["addresses"] = addresses(self.module.run_command, self.module.get_bin_path("ip", required=True))
        return result


def main():
    module = namespace_argspec(
        dict(
            gather=dict(type="list", elements="str", choices=list(PARTS), default=list(PARTS)),
        ),
    ).create_ansible_module(supports_check_mode=True)
    run_module(module, InfoModule(module).run)


if __name__ == "__main__":
    main()
