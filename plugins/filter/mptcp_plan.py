# -*- coding: utf-8 -*-
# Copyright: mptcp.multipath contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: mptcp_plan
short_description: Plan a host's MPTCP endpoints, flags and limits from the links of the hosts of a play
version_added: 0.2.0
description:
  - Takes one host's links (as M(mptcp.multipath.mptcp_preflight) returns them in RV(mptcp.multipath.mptcp_preflight#module:links))
    and the other hosts' links, and returns the endpoints, flags and limits that give each connection exactly one
    subflow per path. The R(mptcp.multipath.mptcp,ansible_collections.mptcp.multipath.mptcp_role) role calls it
    on the controller; the rules and their measurements are in the collection's C(docs/plan.md).
  - Servers with two or more links announce their addresses (V(signal)). Their clients take one announced
    address per link where they can set V(laminar) (kernel 6.18+, NetworkManager 1.56+); other clients have no
    endpoints and take every announcement, the routing table picking each subflow's source. Clients of a server
    with one address open a subflow from each of their links (V(subflow) with C(dev)).
    V(backup) links get V(backup) on the endpoints of both ends (a client without endpoints has the server's).
    Limits are exact, at most 8.
  - Fails, naming the variable, on a host without a side or links without addresses.
options:
  _input:
    description:
      - This host, as C(name), C(side) (V(server), V(client) or V(both)), C(links) (C(interface), C(addresses),
        C(backup)), C(excluded) (interfaces kept out) and C(laminar) (whether its kernel and backend can set that
        flag, RV(mptcp.multipath.mptcp_preflight#module:laminar)).
    type: dict
    required: true
  peers:
    description: The other hosts of the play, in the same form.
    type: list
    elements: dict
    required: true
  topology:
    description:
      - V(auto) tells the shape from the links, V(paired) makes the clients take the servers' announcements,
        V(single_homed) makes them open subflows themselves, V(fullmesh) joins every client address to every
        server address.
    type: str
    default: auto
    choices: [auto, paired, single_homed, fullmesh]
  backend:
    description: The backend whose form RV(_value.declared) takes (V(networkmanager), V(runtime) or V(systemd)).
    type: str
    default: runtime
  limits:
    description:
      - Limits given by the user (the role's C(mptcp_limits)), each replacing the planned one; one below what the
        plan needs adds advice.
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Plan this host's endpoints and limits from the play's links
  ansible.builtin.set_fact:
    mptcp_plan: >-
      {{ {'name': inventory_hostname, 'side': 'client', 'links': preflight.links, 'laminar': preflight.laminar}
         | mptcp.multipath.mptcp_plan(peers, backend=preflight.backend) }}
"""

RETURN = r"""
_value:
  description: The plan.
  type: dict
  contains:
    endpoints:
      description: The kernel endpoints, each with C(address), C(interface), C(flags) and the C(reason).
      type: list
      elements: dict
    profiles:
      description: NetworkManager's C(connection.mptcp-flags) per link, each with C(interface), C(flags), C(reason).
      type: list
      elements: dict
    declared:
      description: What the backend's module takes (C(address), C(dev), C(flags); or C(interface), C(flags)).
      type: list
      elements: dict
    limits:
      description: C(subflows) and C(add_addr_accepted).
      type: dict
    reasons:
      description: Why each limit has its value.
      type: dict
    strategy:
      description: How this host's subflows come about (V(announce), V(routing), V(subflow), V(fullmesh), V(single)).
      type: str
    paths:
      description: For a client, per server and family, the interfaces that carry one subflow each.
      type: list
      elements: dict
    advice:
      description: What the plan cannot do here, and what would help.
      type: list
      elements: str
    commands:
      description: The plan in the words of C(ip mptcp), each line with its reason.
      type: list
      elements: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.mptcp.multipath.plugins.module_utils._common import MptcpError
from ansible_collections.mptcp.multipath.plugins.module_utils._plan import check_host, describe, plan, with_limits


def mptcp_plan(host, peers, topology="auto", backend="runtime", limits=None):
    try:
        check_host(host)
        result = with_limits(plan(host, peers, topology=topology), limits)
    except MptcpError as exc:
        raise AnsibleFilterError(str(exc))
    if backend == "networkmanager":
        links = [link["interface"] for link in host["links"]]
        result["declared"] = [dict(interface=item["interface"], flags=item["flags"]) for item in result["profiles"]
                              if item["interface"] in links]
    else:
        result["declared"] = [dict(address=item["address"], dev=item["interface"], flags=item["flags"])
                              for item in result["endpoints"]]
    result["commands"] = describe(result)
    return result


class FilterModule(object):
    def filters(self):
        return {"mptcp_plan": mptcp_plan}
