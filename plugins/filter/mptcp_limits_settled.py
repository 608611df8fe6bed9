# -*- coding: utf-8 -*-
# Copyright: mptcp.multipath contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: mptcp_limits_settled
short_description: Whether a host already has the MPTCP limits (and their unit) a run would set
version_added: 0.2.0
description:
  - Takes what M(mptcp.multipath.mptcp_preflight) read of a host (RV(mptcp.multipath.mptcp_preflight#module:kernel_limits)
    and RV(mptcp.multipath.mptcp_preflight#module:units)) and the limits to set, and tells whether
    M(mptcp.multipath.mptcp_limits) would change nothing; the kernel has the limits and, with O(unit), the unit file
    is the one M(mptcp.multipath.mptcp_limits) writes for them (same text, root:root 0644), enabled and active.
  - The R(mptcp.multipath.mptcp,ansible_collections.mptcp.multipath.mptcp_role) role skips its limits task on such a
    host, so that a converged host runs no module for it. The unit's text comes from the same code as the module's.
options:
  _input:
    description: The registered result of M(mptcp.multipath.mptcp_preflight).
    type: dict
    required: true
  limits:
    description: The limits to set (C(subflows), C(add_addr_accepted)); those left out are not compared.
    type: dict
    required: true
  unit:
    description:
      - The unit that keeps the limits across reboots (O(mptcp.multipath.mptcp_limits#module:unit)); null for limits
        set only now.
    type: str
"""

EXAMPLES = r"""
- name: Set the limits, now and at boot, unless the host has them already
  mptcp.multipath.mptcp_limits:
    subflows: 2
    unit: set_mptcp_limit.service
  when: not (preflight | mptcp.multipath.mptcp_limits_settled(wanted, unit='set_mptcp_limit.service'))
  vars:
    wanted:
      subflows: 2
"""

RETURN = r"""
_value:
  description: True when nothing would change.
  type: bool
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.mptcp.multipath.plugins.module_utils._units import limits_settled


def mptcp_limits_settled(preflight, limits, unit=None):
    if not isinstance(preflight, dict) or "kernel_limits" not in preflight:
        raise AnsibleFilterError("mptcp_limits_settled takes the registered result of mptcp.multipath.mptcp_preflight")
    unit_facts = None
    if unit:
        unit_facts = (preflight.get("units") or {}).get(unit)
        if unit_facts is None:
            return False  # never read: let mptcp_limits look
    return limits_settled(preflight["kernel_limits"], dict(limits or {}), unit_facts)


class FilterModule(object):
    def filters(self):
        return {"mptcp_limits_settled": mptcp_limits_settled}
