#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mptcp.multipath contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: mptcp_endpoint
short_description: Manage MPTCP endpoints of the kernel path manager
version_added: 0.1.0
description:
  - Adds, changes and removes the MPTCP endpoints of a network namespace, what
    C(ip mptcp endpoint add|change|delete) does by hand.
  - A change of only V(backup) or V(fullmesh) is made in place and keeps the endpoint id;
    any other difference (id, device, port, signal, subflow, laminar) deletes and re-adds the endpoint.
  - Bad input (malformed, unspecified, loopback, link-local or multicast addresses, unknown flags or
    interfaces, impossible flag combinations, ids outside 1..255, more than 8 endpoints) is refused
    before anything is changed.
  - An address that no interface has is accepted, as the kernel does, with a warning.
  - Endpoints made at runtime do not survive a reboot; use NetworkManager profiles
    (M(mptcp.multipath.mptcp_nm_profile)) or the
    R(mptcp.multipath.mptcp,ansible_collections.mptcp.multipath.mptcp_role) role for permanent ones.
author:
  - mptcp.multipath developers (@mptcp-multipath)
extends_documentation_fragment:
  - mptcp.multipath.namespace
  - mptcp.multipath._endpoint.MODULE
requirements:
  - pyroute2 >= 0.7 on the managed host
attributes:
  check_mode:
    support: full
    description: Reports the changes it would make and the predicted endpoints.
  diff_mode:
    support: full
    description: Returns the endpoints before and after.
options:
  address:
    description:
      - IPv4 or IPv6 address of the endpoint. Endpoints are matched by address.
      - Mutually exclusive with O(endpoints).
    type: str
  dev:
    description:
      - Interface the endpoint is bound to. Must exist in the namespace.
      - When left out, the kernel uses no interface binding and an existing endpoint's binding is not compared.
    type: str
  id:
    description:
      - Endpoint id, 1 to 255. Left out, the kernel picks one on add and the id of an existing endpoint is kept.
      - With O(state=absent) an endpoint can be named by O(id) alone.
    type: int
  port:
    description:
      - Port to announce with a V(signal) endpoint (the peer then joins to this port).
    type: int
  flags:
    description:
      - The endpoint's flags, compared exactly. V(laminar) needs kernel 6.18 or newer.
      - V(signal) and V(fullmesh) cannot be combined; V(fullmesh) needs V(subflow).
    type: list
    elements: str
    choices: [signal, subflow, backup, fullmesh, laminar]
    default: []
  endpoints:
    description:
      - A list of endpoints to manage in one task, each with the keys O(address), O(dev), O(id),
        O(port) and O(flags) as above.
      - Mutually exclusive with O(address).
    type: list
    elements: dict
  exclusive:
    description:
      - With O(state=present), remove every endpoint that is not listed, so that the namespace has
        exactly the given endpoints. Endpoints the kernel made itself (flag V(implicit)) are left alone.
      - O(endpoints=[]) with O(exclusive=true) removes all endpoints, the kernel's V(implicit) ones included,
        like C(ip mptcp endpoint flush).
    type: bool
    default: false
  state:
    description:
      - V(present) makes the endpoints exist as given; V(absent) deletes them (named by address or id).
    type: str
    choices: [present, absent]
    default: present
seealso:
  - module: mptcp.multipath.mptcp_limits
  - module: mptcp.multipath.mptcp_info
  - name: ip-mptcp(8)
    description: The iproute2 command this module replaces.
    link: https://man7.org/linux/man-pages/man8/ip-mptcp.8.html
"""

EXAMPLES = r"""
- name: Announce the server's second address to clients, until the next reboot
  mptcp.multipath.mptcp_endpoint:
    address: 198.51.100.1
    dev: enp1s0
    flags: [signal]

- name: Let the client open a subflow from its Wi-Fi address, as a backup path
  mptcp.multipath.mptcp_endpoint:
    address: 192.0.2.3
    dev: wlp1s0
    flags: [subflow, backup]

- name: Own the whole set of endpoints; any other endpoint is removed
  mptcp.multipath.mptcp_endpoint:
    endpoints:
      - address: 192.0.2.2
        dev: enp4s0f0
        id: 1
        flags: [subflow]
      - address: 198.51.100.2
        dev: enp4s0f1
        id: 2
        flags: [subflow]
    exclusive: true

- name: Delete endpoint id 2
  mptcp.multipath.mptcp_endpoint:
    id: 2
    state: absent

- name: Remove all endpoints in a network namespace
  mptcp.multipath.mptcp_endpoint:
    endpoints: []
    exclusive: true
    namespace: client
"""

RETURN = r"""
endpoints:
  description:
    - The endpoints after the task (in check mode, as they would be; an id the kernel will choose is null).
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Endpoint id.
      type: int
      sample: 1
    address:
      description: Endpoint address.
      type: str
      sample: 198.51.100.1
    port:
      description: Announced port, 0 for none.
      type: int
      sample: 0
    flags:
      description: Flag names.
      type: list
      elements: str
      sample: [signal]
    dev:
      description: Interface name, null when not bound.
      type: str
      sample: enp1s0
    ifindex:
      description: Interface index, 0 when not bound.
      type: int
      sample: 3
  sample:
    - {id: 1, address: 198.51.100.1, port: 0, flags: [signal], dev: enp1s0, ifindex: 3}
actions:
  description: The kernel calls made (or, in check mode, that would be made), in order.
  returned: always
  type: list
  elements: dict
  sample:
    - action: add
      endpoint: {id: null, address: 198.51.100.1, port: 0, flags: [signal], dev: enp1s0, ifindex: 3}
"""

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.mptcp.multipath.plugins.module_utils._argspec import module_endpoint_options, namespace_argspec
from ansible_collections.mptcp.multipath.plugins.module_utils._common import (
    enter_namespace,
    interface_indexes,
    run_module,
)
from ansible_collections.mptcp.multipath.plugins.module_utils._endpoints import (
    normalize_spec,
    plan_absent,
    plan_present,
    predict,
)
from ansible_collections.mptcp.multipath.plugins.module_utils._netlink import (
    HAS_PYROUTE2,
    PYROUTE2_IMPORT_ERROR,
    MptcpNetlink,
    usable_addresses,
)

ENDPOINT_KEYS = ("address", "dev", "id", "port", "flags")


class EndpointModule(object):

    def __init__(self, module):
        self.module = module
        self.params = module.params

    def wanted(self):
        """The user's endpoints, checked and in canonical form."""
        interfaces = interface_indexes()
        if self.params["endpoints"] is not None:
            raw_list = self.params["endpoints"]
        else:
            raw_list = [dict((key, self.params[key]) for key in ENDPOINT_KEYS)]
        need_address = self.params["state"] == "present"
        return [normalize_spec(raw, interfaces, need_address=need_address) for raw in raw_list]

    def warn_about_foreign_addresses(self, specs):
        """The kernel accepts an endpoint for an address no interface has (or
        one on a link that is down, or still tentative), but no subflow can
        use it until the address is usable: say so."""
        usable = usable_addresses()
        for spec in specs:
            if spec["address"] not in usable:
                self.module.warn("address %s is not usable on any interface here (missing, on a link that is down, "
                                 "or still tentative): the endpoint is made, but no subflow can use it until the "
                                 "address is usable" % spec["address"])

    def run(self):
        enter_namespace(self.params["namespace"])
        specs = self.wanted()
        if self.params["state"] == "present":
            self.warn_about_foreign_addresses(specs)
        with MptcpNetlink() as kernel:
            before = kernel.endpoints()
            if self.params["state"] == "present":
                # an empty exclusive set is a flush: the kernel's implicit endpoints go too
                actions = plan_present(before, specs, exclusive=self.params["exclusive"], keep_implicit=bool(specs))
            else:
                actions = plan_absent(before, specs)
            if actions and not self.module.check_mode:
                kernel.apply(actions)
                after = kernel.endpoints()
            else:
                after = predict(before, actions)
        return {
            "changed": bool(actions),
            "endpoints": after,
            "actions": actions,
            "diff": {"before": {"endpoints": before}, "after": {"endpoints": after}},
        }


def main():
    argument_spec = module_endpoint_options()
    argument_spec.update(
        endpoints=dict(type="list", elements="dict", options=module_endpoint_options(address_required=True)),
        exclusive=dict(type="bool", default=False),
        state=dict(type="str", choices=["present", "absent"], default="present"),
    )
    module = namespace_argspec(
        argument_spec,
        mutually_exclusive=[("address", "endpoints"), ("id", "endpoints"), ("dev", "endpoints"),
                            ("port", "endpoints"), ("flags", "endpoints")],
        required_one_of=[("address", "endpoints", "id")],
        required_if=[("state", "present", ("address", "endpoints"), True)],
    ).create_ansible_module(supports_check_mode=True)
    if module.params["exclusive"] and module.params["state"] == "absent":
        module.fail_json(msg="exclusive=true only makes sense with state=present")
    if not HAS_PYROUTE2:
        module.fail_json(msg=missing_required_lib("pyroute2"), exception=PYROUTE2_IMPORT_ERROR)
    run_module(module, EndpointModule(module).run)


if __name__ == "__main__":
    main()
