# -*- coding: utf-8 -*-
# Copyright: mptcp.multipath contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: mptcp_linkdown_sysctls
short_description: The linkdown-route sysctls that keep new connections off links without carrier
version_added: 0.2.0
description:
  - For the links whose NetworkManager profiles stay up without carrier (the
    R(mptcp.multipath.mptcp,ansible_collections.mptcp.multipath.mptcp_role) role's C(mptcp_nm_ignore_carrier)),
    tells which C(net.ipv4.conf.<link>.ignore_routes_with_linkdown) and C(net.ipv6.conf.<link>.ignore_routes_with_linkdown)
    keys to read, the sysctl.d file that sets them to 1 at boot, and the C(sysctl -w) arguments that set them
    now; keys an earlier file named and the links no longer need go back to 0.
options:
  _input:
    description: The links (interface names); empty to undo.
    type: list
    elements: str
    required: true
  file_before:
    description: The sysctl.d file as an earlier run left it (empty when there is none).
    type: str
    default: ''
  now:
    description: What C(sysctl -e) printed for the keys of RV(_value.read) (empty before reading).
    type: str
    default: ''
"""

EXAMPLES = r"""
- name: Plan the linkdown-route sysctls of two links
  ansible.builtin.set_fact:
    linkdown: "{{ ['link1', 'link2'] | mptcp.multipath.mptcp_linkdown_sysctls(now=sysctl_now.stdout) }}"
"""

RETURN = r"""
_value:
  description: The plan.
  type: dict
  contains:
    read:
      description: The keys to read, the links' first, then those the earlier file named.
      type: list
      elements: str
    file:
      description: The sysctl.d file's text, null when there should be none.
      type: str
    writes:
      description: C(key=value) arguments for C(sysctl -w), only for keys the kernel has and whose value differs.
      type: list
      elements: str
"""

from ansible_collections.mptcp.multipath.plugins.module_utils._linkdown import plan


def mptcp_linkdown_sysctls(interfaces, file_before="", now=""):
    return plan(list(interfaces or []), file_before or "", now or "")


class FilterModule(object):
    def filters(self):
        return {"mptcp_linkdown_sysctls": mptcp_linkdown_sysctls}
