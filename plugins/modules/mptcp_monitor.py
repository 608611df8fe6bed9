#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mptcp.multipath contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: mptcp_monitor
short_description: Wait for and report MPTCP path-manager events
version_added: 0.1.0
description:
  - Listens to the kernel's MPTCP path-manager events, what C(ip mptcp monitor) prints,
    that is connections created, established and closed, subflows established and closed, addresses announced
    and removed by the peer, subflow priority changes, listeners created and closed.
  - Listens for O(timeout) seconds, or returns as soon as an event matches O(until), or after O(max_events)
    events; the events come back as structured data.
  - With O(until) the task B(fails) when the time passes (or O(max_events) are kept) before a matching event;
    the message names the condition and lists the events that were seen.
  - Only events that happen while the module listens are seen; anything before its socket is open is lost.
    To wait for the effect of a later task, start this module with C(async) and C(poll=0) before that task,
    give it a moment to open its socket (for example one second), and collect it with
    M(ansible.builtin.async_status); see the examples. Set C(async) longer than O(timeout).
  - Events are per network namespace. They are read from the generic netlink family C(mptcp_pm),
    multicast group C(mptcp_pm_events), which needs CAP_NET_ADMIN on recent kernels (run the task as root).
author:
  - mptcp.multipath developers (@mptcp-multipath)
extends_documentation_fragment:
  - mptcp.multipath.namespace
  - mptcp.multipath.attributes.read_only
options:
  timeout:
    description:
      - How many seconds to listen, at most. Must be positive.
      - Without O(until) and O(max_events) the module always listens this long.
    type: float
    default: 10
  until:
    description:
      - Return as soon as an event arrives that has all of the given values; keys left out match anything.
      - Checked against every event, also those that O(events) does not keep.
      - If O(timeout) passes (or O(max_events) events are kept) first, the task fails.
    type: dict
    suboptions:
      event:
        description: The event type.
        type: str
        required: true
        choices: [created, established, closed, announced, removed, sf_established, sf_closed, sf_priority,
                  listener_created, listener_closed]
      token:
        description: The connection token, as C(ip mptcp monitor) prints it (hex, for example V(63c070d2)).
        type: str
      family:
        description: Address family of the event.
        type: str
        choices: [ipv4, ipv6]
      saddr:
        description: Local (source) address.
        type: str
      daddr:
        description: Remote (destination) address.
        type: str
      sport:
        description: Local port.
        type: int
      dport:
        description: Remote port.
        type: int
      local_id:
        description: Local address id (C(locid)); for a subflow, the id of the endpoint it uses.
        type: int
      remote_id:
        description: Remote address id (C(remid)).
        type: int
      ifindex:
        description: Interface index of a subflow.
        type: int
      dev:
        description: Interface name of a subflow.
        type: str
      backup:
        description: Whether a subflow is a backup path.
        type: bool
      server_side:
        description: Whether this host accepted the connection (V(true)) or opened it (V(false)).
        type: bool
      error:
        description: The error code of a closed subflow.
        type: int
  events:
    description:
      - Event types to keep in RV(events); left out, every event is kept.
    type: list
    elements: str
    choices: [created, established, closed, announced, removed, sf_established, sf_closed, sf_priority,
              listener_created, listener_closed]
  max_events:
    description:
      - Stop after this many kept events. Must be positive.
    type: int
notes:
  - The standard library is enough; pyroute2 is not needed for this module.
seealso:
  - module: mptcp.multipath.mptcp_endpoint
  - module: mptcp.multipath.mptcp_info
  - name: ip-mptcp(8)
    description: C(ip mptcp monitor), which this module replaces.
    link: https://man7.org/linux/man-pages/man8/ip-mptcp.8.html
"""

EXAMPLES = r"""
- name: Report every MPTCP event of the next 30 seconds
  mptcp.multipath.mptcp_monitor:
    timeout: 30
  register: mptcp_events

# A gate: listen first (async, poll 0), act, then wait for the event.
- name: Listen for the subflow over the Wi-Fi address
  mptcp.multipath.mptcp_monitor:
    timeout: 60
    until:
      event: sf_established
      saddr: 192.0.2.3
  async: 90
  poll: 0
  register: subflow_monitor

- name: Give the monitor a moment to open its socket (earlier events are not seen)
  ansible.builtin.pause:
    seconds: 1

- name: Add the Wi-Fi endpoint while the monitor listens
  mptcp.multipath.mptcp_endpoint:
    address: 192.0.2.3
    dev: wlp1s0
    flags: [subflow]

- name: Wait until the kernel reports the new subflow; fails if it does not come within 60 seconds
  ansible.builtin.async_status:
    jid: "{{ subflow_monitor.ansible_job_id }}"
  register: subflow
  until: subflow is finished
  retries: 90
  delay: 1

- name: Show the subflow's local id and port
  ansible.builtin.debug:
    msg: "locid {{ subflow.matched.local_id }} port {{ subflow.matched.sport }} on {{ subflow.matched.dev }}"

- name: Collect only subflow events, at most 10, in a network namespace
  mptcp.multipath.mptcp_monitor:
    timeout: 20
    events: [sf_established, sf_closed]
    max_events: 10
    namespace: client
"""

RETURN = r"""
events:
  description:
    - The events kept, in the order they arrived. Every event has every key; what the kernel did not send is null.
  returned: always, also on failure
  type: list
  elements: dict
  contains:
    type:
      description:
        - The event type, one of V(created), V(established), V(closed), V(announced), V(removed),
          V(sf_established), V(sf_closed), V(sf_priority), V(listener_created), V(listener_closed).
      type: str
    timestamp:
      description: When the event was read, in seconds since the epoch.
      type: float
    token:
      description: The connection token, 8 hex digits as C(ip mptcp monitor) prints it; null for listener events.
      type: str
    family:
      description: V(ipv4) or V(ipv6); null for events without addresses.
      type: str
    saddr:
      description: Local address (of the subflow, or the listener's address).
      type: str
    daddr:
      description: Remote address; for V(announced), the address the peer announced.
      type: str
    sport:
      description: Local port.
      type: int
    dport:
      description: Remote port.
      type: int
    local_id:
      description: Local address id (C(locid)).
      type: int
    remote_id:
      description: Remote address id (C(remid)).
      type: int
    backup:
      description: Whether the subflow is a backup path (subflow events).
      type: bool
    ifindex:
      description: Interface index of the subflow (subflow events).
      type: int
    dev:
      description: Interface name for RV(events[].ifindex), when the interface still exists.
      type: str
    server_side:
      description: Whether this host accepted the connection; set for V(created) and V(established).
      type: bool
    error:
      description: Error code of a closed subflow.
      type: int
    flags:
      description: The raw MPTCP_ATTR_FLAGS bits, when the kernel sent them.
      type: int
    deny_join_id0:
      description: Whether the peer refuses joins to its initial address (flag bit 0); set with RV(events[].flags).
      type: bool
    timeout:
      description: The add-address timeout sent with some events.
      type: int
    reset_reason:
      description: MPTCP reset reason of a closed subflow.
      type: int
    reset_flags:
      description: MPTCP reset flags of a closed subflow.
      type: int
    line:
      description:
        - The event in one line in the manner of C(ip mptcp monitor), its type in capitals and then each key that is not
          null (booleans as V(0) or V(1)), for example
          C(SF_ESTABLISHED token=63c070d2 local_id=2 remote_id=0 saddr=192.0.2.3 daddr=192.0.2.1 sport=53345 dport=12345
          backup=0 dev=wlp1s0).
      type: str
  sample:
    - {type: sf_established, timestamp: 1717000000.5, token: 63c070d2, family: ipv4, saddr: 192.0.2.3,
       daddr: 192.0.2.1, sport: 53345, dport: 12345, local_id: 2, remote_id: 0, backup: false, ifindex: 3,
       dev: wlp1s0, server_side: null, error: null, flags: null, deny_join_id0: null, timeout: null,
       reset_reason: null, reset_flags: null,
       line: SF_ESTABLISHED token=63c070d2 local_id=2 remote_id=0 saddr=192.0.2.3 daddr=192.0.2.1 sport=53345 dport=12345 backup=0 dev=wlp1s0}
matched:
  description: The event that satisfied O(until) (null on failure), with the keys of RV(events).
  returned: when O(until) is given
  type: dict
  sample: {type: sf_established, token: 63c070d2, saddr: 192.0.2.3, local_id: 2, dev: wlp1s0}
elapsed:
  description: Seconds spent listening.
  returned: always, also on failure
  type: float
  sample: 1.204
stopped:
  description: Why listening stopped, V(until), V(max_events) or V(timeout).
  returned: always, also on failure
  type: str
  sample: until
"""

from ansible_collections.mptcp.multipath.plugins.module_utils._argspec import namespace_argspec
from ansible_collections.mptcp.multipath.plugins.module_utils._common import (
    enter_namespace,
    run_module,
)
from ansible_collections.mptcp.multipath.plugins.module_utils._monitor import (
    EVENT_NAMES,
    EventSocket,
    monitor,
    normalize_params,
)


class MonitorModule(object):

    def __init__(self, module):
        self.module = module

    def run(self):
        options = normalize_params(self.module.params)  # bad input fails before anything is opened
        enter_namespace(self.module.params["namespace"])
        with EventSocket() as source:
            return monitor(source, options["timeout"], until=options["until"], events=options["events"],
                           max_events=options["max_events"])


def main():
    module = namespace_argspec(
        dict(
            timeout=dict(type="float", default=10),
            until=dict(type="dict", options=dict(
                event=dict(type="str", required=True, choices=list(EVENT_NAMES)),
                token=dict(type="str", no_log=False),
                family=dict(type="str", choices=["ipv4", "ipv6"]),
                saddr=dict(type="str"),
                daddr=dict(type="str"),
                sport=dict(type="int"),
                dport=dict(type="int"),
                local_id=dict(type="int"),
                remote_id=dict(type="int"),
                ifindex=dict(type="int"),
                dev=dict(type="str"),
                backup=dict(type="bool"),
                server_side=dict(type="bool"),
                error=dict(type="int"),
            )),
            events=dict(type="list", elements="str", choices=list(EVENT_NAMES)),
            max_events=dict(type="int"),
        ),
    ).create_ansible_module(supports_check_mode=True)
    run_module(module, MonitorModule(module).run)


if __name__ == "__main__":
    main()
