#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mptcp.multipath contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: mptcp_limits
short_description: Set the MPTCP path manager limits
version_added: 0.1.0
description:
  - Sets the per-connection limits of the in-kernel path manager, what C(ip mptcp limits set) does by hand.
  - Only the limits given change; the other one keeps its value.
  - Limits set at runtime do not survive a reboot; the
    R(mptcp.multipath.mptcp,ansible_collections.mptcp.multipath.mptcp_role) role makes them persistent.
author:
  - mptcp.multipath developers (@mptcp-multipath)
extends_documentation_fragment:
  - mptcp.multipath.namespace
requirements:
  - pyroute2 >= 0.7 on the managed host
attributes:
  check_mode:
    support: full
    description: Reports the limits it would set.
  diff_mode:
    support: full
    description: Returns the limits before and after.
options:
  subflows:
    description:
      - Maximum number of additional subflows per MPTCP connection, 0 to 8.
    type: int
  add_addr_accepted:
    description:
      - Maximum number of addresses announced by the peer (ADD_ADDR) that a connection accepts
        and opens subflows to, 0 to 8.
    type: int
seealso:
  - module: mptcp.multipath.mptcp_endpoint
"""

EXAMPLES = r"""
- name: Accept one additional address announced by the server (on the client)
  mptcp.multipath.mptcp_limits:
    add_addr_accepted: 1

- name: Allow up to three additional subflows
  mptcp.multipath.mptcp_limits:
    subflows: 3

- name: Read the limits of a namespace without changing them
  mptcp.multipath.mptcp_limits:
    namespace: client
  register: client_limits
"""

RETURN = r"""
limits:
  description: The limits after the task (in check mode, as they would be).
  returned: always
  type: dict
  contains:
    subflows:
      description: Maximum additional subflows per connection.
      type: int
      sample: 2
    add_addr_accepted:
      description: Maximum accepted ADD_ADDR announcements per connection.
      type: int
      sample: 1
previous:
  description: The limits before the task.
  returned: always
  type: dict
  sample: {subflows: 2, add_addr_accepted: 0}
"""

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.mptcp.multipath.plugins.module_utils._argspec import namespace_argspec
from ansible_collections.mptcp.multipath.plugins.module_utils._common import enter_namespace, run_module
from ansible_collections.mptcp.multipath.plugins.module_utils._limits import LIMIT_NAMES, check_limits
from ansible_collections.mptcp.multipath.plugins.module_utils._netlink import (
    HAS_PYROUTE2,
    PYROUTE2_IMPORT_ERROR,
    MptcpNetlink,
)


class LimitsModule(object):

    def __init__(self, module):
        self.module = module
        self.wanted = dict((name, module.params[name]) for name in LIMIT_NAMES
                           if module.params[name] is not None)

    def run(self):
        check_limits(self.wanted)
        enter_namespace(self.module.params["namespace"])
        with MptcpNetlink() as kernel:
            before = kernel.limits()
            after = dict(before, **self.wanted)
            changed = after != before
            if changed and not self.module.check_mode:
                kernel.set_limits(**dict((name, value) for name, value in self.wanted.items()
                                         if before[name] != value))
                after = kernel.limits()
        return {"changed": changed, "limits": after, "previous": before,
                "diff": {"before": before, "after": after}}


def main():
    module = namespace_argspec(
        dict(
            subflows=dict(type="int"),
            add_addr_accepted=dict(type="int"),
        ),
    ).create_ansible_module(supports_check_mode=True)
    if not HAS_PYROUTE2:
        module.fail_json(msg=missing_required_lib("pyroute2"), exception=PYROUTE2_IMPORT_ERROR)
    run_module(module, LimitsModule(module).run)


if __name__ == "__main__":
    main()
