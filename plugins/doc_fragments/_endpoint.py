# -*- coding: utf-8 -*-
# Copyright: mptcp.multipath contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# The suboptions of O(endpoints) as plugins/module_utils/_argspec.py builds
# them: MODULE for module_endpoint_options() (mptcp_endpoint), ROLE for
# role_endpoint_options() (mptcp_preflight). A module that uses one documents
# O(endpoints) itself without suboptions; the fragment adds them.
# Not part of the collection's public API; it has no DOCUMENTATION of its own.

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):

    # A module endpoint: bound to an interface by dev.
    MODULE = r"""
options:
  endpoints:
    suboptions:
      address:
        description: IPv4 or IPv6 address of the endpoint.
        type: str
        required: true
      dev:
        description: Interface the endpoint is bound to.
        type: str
      flags:
        description: The endpoint's flags.
        type: list
        elements: str
        choices: [signal, subflow, backup, fullmesh, laminar]
        default: []
      id:
        description:
          - Endpoint id, 1 to 255.
        type: int
      port:
        description:
          - Port announced by a V(signal) endpoint, 1 to 65535.
        type: int
"""

    # A role endpoint: named by its interface or NetworkManager profile.
    ROLE = r"""
options:
  endpoints:
    suboptions:
      address:
        description: IPv4 or IPv6 address (no zone index such as C(%eth0)).
        type: str
      interface:
        description: Interface of the endpoint; it must exist. With V(networkmanager), its profile gets the flags.
        type: str
      profile:
        description: NetworkManager profile name, instead of O(endpoints[].interface); it must exist.
        type: str
      flags:
        description:
          - Endpoint flags. V(also-without-default-route) and V(also-without-sysctl) are NetworkManager's own.
          - V(signal) and V(fullmesh) cannot be combined; V(fullmesh) needs V(subflow); a port needs V(signal).
          - Left out, O(default_flags) applies.
        type: list
        elements: str
        choices: [signal, subflow, backup, fullmesh, laminar, also-without-default-route, also-without-sysctl]
      id:
        description:
          - Endpoint id, 1 to 255 (runtime only).
        type: int
      port:
        description:
          - Port announced by a V(signal) endpoint, 1 to 65535 (runtime only).
        type: int
"""
