#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mptcp.multipath contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: mptcp_apps_plan
short_description: Work out which systemd units get an MPTCP drop-in
version_added: 0.2.0
description:
  - Reads the host and says what the
    R(mptcp.multipath.mptcp_apps,ansible_collections.mptcp.multipath.mptcp_apps_role) role will do. It names
    the units that get a drop-in, the units whose drop-in (one that carries the role's marker) goes away, and
    the running units among both. It also names the services that socket units activate and where mptcpize's library is.
  - Refuses, before anything is changed, malformed unit names, units systemd does not know, and C(.socket)
    units on a systemd older than O(socket_protocol_min_systemd).
  - Changes nothing.
author:
  - mptcp.multipath developers (@mptcp-multipath)
extends_documentation_fragment:
  - mptcp.multipath.attributes.read_only
options:
  units:
    description: Full names of the C(.service) and C(.socket) units that should use MPTCP.
    type: list
    elements: str
    default: []
  state:
    description: V(absent) plans to remove every drop-in the role owns.
    type: str
    choices: [present, absent]
    default: present
  dropin_name:
    description: File name of the drop-in in C(/etc/systemd/system/<unit>.d/).
    type: str
    default: 50-mptcp.conf
  marker:
    description: The text after C(# ) on a line of its own that marks a drop-in as the role's.
    type: str
    required: true
  restart:
    description: Whether running units are restarted when their drop-in changes (else RV(running) is empty).
    type: bool
    default: true
  preload_library:
    description: Path of C(libmptcpwrap.so.0); empty looks in the usual places, then in the package's file list.
    type: str
    default: ""
  socket_protocol_min_systemd:
    description: The first systemd version that knows C(SocketProtocol=mptcp).
    type: int
    default: 257
  systemd_dir:
    description: Where the drop-in directories are.
    type: path
    default: /etc/systemd/system
seealso:
  - module: mptcp.multipath.mptcp_info
"""

EXAMPLES = r"""
- name: Plan the drop-ins of two services
  mptcp.multipath.mptcp_apps_plan:
    units: [iperf3.service, nginx.service]
    marker: mptcp.multipath.mptcp_apps owns this file
  register: plan
"""

RETURN = r"""
units:
  description: The units that get a drop-in, in order, each once.
  returned: always
  type: list
  elements: str
  sample: [iperf3.service]
stale:
  description: Units whose drop-in (with the marker) is there but that are no longer wanted.
  returned: always
  type: list
  elements: str
  sample: [nginx.service]
running:
  description: The units of RV(units) and RV(stale) that are running now (empty when O(restart) is false).
  returned: always
  type: list
  elements: str
  sample: [iperf3.service]
triggers:
  description: For each socket unit of RV(units) and RV(stale), the services it activates.
  returned: always
  type: dict
  sample: {echo.socket: [echo.service]}
services:
  description: The C(.service) units of RV(units), which need mptcpize's library.
  returned: always
  type: list
  elements: str
  sample: [iperf3.service]
sockets:
  description: The C(.socket) units of RV(units), which need C(SocketProtocol=mptcp).
  returned: always
  type: list
  elements: str
  sample: []
library:
  description: Path of mptcpize's library, when a service needs it and it was found (else null).
  returned: always
  type: str
  sample: /usr/lib/x86_64-linux-gnu/mptcpize/libmptcpwrap.so.0
systemd_version:
  description: The systemd version, when a socket unit is listed (else null).
  returned: always
  type: int
  sample: 257
"""

import glob
import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mptcp.multipath.plugins.module_utils._apps import (
    LIBRARY_GLOBS,
    PACKAGE_FILE_LISTS,
    check_dropin_name,
    check_unit_names,
    library_from_file_list,
    owns,
    parse_systemctl_show,
    parse_systemd_version,
    plan,
    unit_of_dropin,
)
from ansible_collections.mptcp.multipath.plugins.module_utils._common import MptcpError, run_module


class AppsPlanModule(object):

    def __init__(self, module):
        self.module = module
        self.params = module.params

    def output(self, argv):
        rc, stdout, stderr = self.module.run_command(argv, environ_update={"LC_ALL": "C"})
        if rc != 0:
            raise MptcpError("%s failed (rc=%d): %s" % (" ".join(argv), rc, (stderr or stdout).strip()))
        return stdout

    def owned(self):
        units = []
        pattern = os.path.join(self.params["systemd_dir"], "*.d", self.params["dropin_name"])
        for path in sorted(glob.glob(pattern)):
            with open(path) as handle:
                if owns(handle.read(), self.params["marker"]):
                    units.append(unit_of_dropin(path))
        return units

    def library(self):
        if self.params["preload_library"]:
            return self.params["preload_library"] if os.path.exists(self.params["preload_library"]) else None
        for pattern in LIBRARY_GLOBS:
            found = sorted(glob.glob(pattern))
            if found:
                return found[0]
        for argv in PACKAGE_FILE_LISTS:
            binary = self.module.get_bin_path(argv[0])
            if binary:
                rc, stdout, _stderr = self.module.run_command([binary] + list(argv[1:]))
                if rc == 0 and library_from_file_list(stdout):
                    return library_from_file_list(stdout)
        return None

    def run(self):
        units = self.params["units"]
        check_dropin_name(self.params["dropin_name"])
        if self.params["state"] == "present":
            check_unit_names(units)
        owned = self.owned()
        wanted = units if self.params["state"] == "present" else []
        systemctl = self.module.get_bin_path("systemctl", required=True)
        states = {}
        if wanted or owned:
            states = parse_systemctl_show(self.output(
                [systemctl, "show", "--property=Id,LoadState,ActiveState,Triggers", "--"] + list(wanted) + owned))
        result = plan(units, self.params["state"], owned, states, self.params["restart"])
        result["systemd_version"] = None
        if result["sockets"]:
            version = parse_systemd_version(self.output([systemctl, "--version"]))
            if version < self.params["socket_protocol_min_systemd"]:
                raise MptcpError(
                    "%s: SocketProtocol=mptcp needs systemd %d or newer and this host has systemd %d. A socket "
                    "opened by systemd cannot be switched with LD_PRELOAD; list the service without socket "
                    "activation instead. Nothing was changed."
                    % (", ".join(result["sockets"]), self.params["socket_protocol_min_systemd"], version))
            result["systemd_version"] = version
        result["library"] = self.library() if result["services"] else None
        result["changed"] = False
        return result


def main():
    module = AnsibleModule(
        argument_spec=dict(
            units=dict(type="list", elements="str", default=[]),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            dropin_name=dict(type="str", default="50-mptcp.conf"),
            marker=dict(type="str", required=True),
            restart=dict(type="bool", default=True),
            preload_library=dict(type="str", default=""),
            socket_protocol_min_systemd=dict(type="int", default=257),
            systemd_dir=dict(type="path", default="/etc/systemd/system"),
        ),
        supports_check_mode=True,
    )
    run_module(module, AppsPlanModule(module).run)


if __name__ == "__main__":
    main()
