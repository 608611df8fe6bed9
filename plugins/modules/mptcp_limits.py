#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mptcp.multipath contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: mptcp_limits
short_description: Set the MPTCP path manager limits, now and at every boot
version_added: 0.1.0
description:
  - Sets the per-connection limits of the in-kernel path manager, what C(ip mptcp limits set) does by hand.
  - Only the limits given change; the other one keeps its value.
  - Limits set at runtime do not survive a reboot. With O(unit), the module also keeps them; it writes the
    seed's oneshot unit (C(/etc/systemd/system/<unit>), root:root 0644, running C(ip mptcp limits set) at boot),
    enables it and starts it, which sets the limits now. The
    R(mptcp.multipath.mptcp,ansible_collections.mptcp.multipath.mptcp_role) role does this for you.
  - The limits are read over the kernel's generic netlink socket with the standard library; pyroute2 is imported
    only to change them without O(unit).
author:
  - mptcp.multipath developers (@mptcp-multipath)
extends_documentation_fragment:
  - mptcp.multipath.namespace
requirements:
  - pyroute2 >= 0.7 on the managed host, to change the limits without O(unit)
  - systemd and C(ip) (iproute2) on the managed host, with O(unit)
attributes:
  check_mode:
    support: full
    description: Reports the limits it would set and the unit it would write.
  diff_mode:
    support: full
    description: Returns the limits before and after, and with O(unit) the unit file's text before and after.
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
  unit:
    description:
      - Name of a systemd service in C(/etc/systemd/system) that sets the given limits at every boot, for example
        V(set_mptcp_limit.service) as in the seed. The module writes it when its text differs (or its mode or owner),
        enables it, and (re)starts it when anything changed, it is not active, or the kernel's limits differ, so
        that its C(ip mptcp limits set) runs now. Remove it with M(ansible.builtin.systemd_service) and
        M(ansible.builtin.file).
      - Needs O(subflows) or O(add_addr_accepted), and is for the host's own network namespace only (not with
        O(namespace)).
    type: str
seealso:
  - module: mptcp.multipath.mptcp_endpoint
  - name: systemd.service(5)
    description: Type=oneshot and RemainAfterExit=, which the unit uses.
    link: https://www.freedesktop.org/software/systemd/man/latest/systemd.service.html
"""

EXAMPLES = r"""
- name: Accept one additional address announced by the server (on the client)
  mptcp.multipath.mptcp_limits:
    add_addr_accepted: 1

- name: Allow up to three additional subflows, now and at every boot (the seed's 34.4)
  mptcp.multipath.mptcp_limits:
    subflows: 3
    unit: set_mptcp_limit.service

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
unit:
  description: The unit that sets the limits at boot, after the task (in check mode, as it would be).
  returned: when O(unit) is given
  type: dict
  contains:
    name:
      description: The unit's name.
      type: str
      sample: set_mptcp_limit.service
    path:
      description: The unit file.
      type: str
      sample: /etc/systemd/system/set_mptcp_limit.service
    written:
      description: Whether the unit file was written (created, or changed in text, mode or owner).
      type: bool
      sample: true
    enabled:
      description: Whether the unit starts at boot.
      type: bool
      sample: true
    active:
      description: Whether the unit has run and stays active.
      type: bool
      sample: true
"""

import os
import tempfile
import time

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.mptcp.multipath.plugins.module_utils._argspec import namespace_argspec
from ansible_collections.mptcp.multipath.plugins.module_utils._common import MptcpError, enter_namespace, run_module
from ansible_collections.mptcp.multipath.plugins.module_utils._limits import LIMIT_NAMES, check_limits
from ansible_collections.mptcp.multipath.plugins.module_utils._pm import PathManager
from ansible_collections.mptcp.multipath.plugins.module_utils._pyroute2 import probe as pyroute2_probe
from ansible_collections.mptcp.multipath.plugins.module_utils._units import (
    SYSTEMD_RUN_DIR,
    SYSTEMD_UNIT_DIR,
    UNIT_MODE,
    check_service_name,
    limits_unit_text,
    read_units,
    unit_changes,
)

# A oneshot unit can fail to start for a moment in a loaded container
# (status=219/CGROUP, seen in the lab); it only sets limits, so starting again is safe.
START_ATTEMPTS = 5
START_RETRY_SECONDS = 1


def open_netlink():
    """pyroute2's MPTCP socket, imported only here: reading the limits needs
    none of it, and importing pyroute2 0.7 costs a host more than the whole task."""
    from ansible_collections.mptcp.multipath.plugins.module_utils import _netlink
    if not _netlink.HAS_PYROUTE2:
        raise MptcpError(missing_required_lib("pyroute2"), exception=_netlink.PYROUTE2_IMPORT_ERROR)
    return _netlink.MptcpNetlink()


def check_pyroute2():
    """In check mode, the refusal a real run's change would meet, found
    without importing pyroute2: check mode tells what the real run would do."""
    installed, unsupported = pyroute2_probe()
    if not installed:
        raise MptcpError(missing_required_lib("pyroute2"))
    if unsupported:
        raise MptcpError(unsupported)


class LimitsModule(object):

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.wanted = dict((name, self.params[name]) for name in LIMIT_NAMES if self.params[name] is not None)
        self.unit = self.params["unit"]
        self.path = os.path.join(SYSTEMD_UNIT_DIR, self.unit) if self.unit else None

    def check_unit(self):
        """Everything about O(unit) that can be refused before any change."""
        check_service_name(self.unit, "unit")
        if self.params["namespace"]:
            raise MptcpError("unit %r would set the limits of the host's own network namespace at boot, not those of "
                             "namespace %r: leave out unit or namespace" % (self.unit, self.params["namespace"]))
        if not self.wanted:
            raise MptcpError("unit %r needs subflows or add_addr_accepted: a unit that sets no limit does nothing"
                             % self.unit)
        systemctl = self.module.get_bin_path("systemctl")
        if not systemctl or not os.path.isdir(SYSTEMD_RUN_DIR):
            raise MptcpError("unit %r needs systemd running on this host" % self.unit)
        return systemctl

    def read_unit(self):
        facts = read_units(self.module, [self.unit], SYSTEMD_UNIT_DIR, SYSTEMD_RUN_DIR)[self.unit]
        text = ""
        if facts["exists"]:
            try:
                with open(self.path) as handle:
                    text = handle.read()
            except (IOError, OSError, UnicodeDecodeError) as exc:
                raise MptcpError("cannot read %s: %s" % (self.path, exc))
        return facts, text

    def write_unit(self, text):
        handle, temp_path = tempfile.mkstemp(dir=self.module.tmpdir)
        with os.fdopen(handle, "w") as temp:
            temp.write(text)
        self.module.atomic_move(temp_path, self.path)
        os.chown(self.path, 0, 0)  # atomic_move keeps an existing file's owner
        os.chmod(self.path, int(UNIT_MODE, 8))

    def systemctl(self, systemctl, *args):
        rc, out, err = self.module.run_command([systemctl] + list(args))
        return rc, (err or out).strip()

    def apply_unit(self, systemctl, text, write, enable):
        """Write, enable and (re)start the unit; its ExecStart sets the limits."""
        if write:
            try:
                self.write_unit(text)
            except (IOError, OSError) as exc:
                raise MptcpError("cannot write %s: %s" % (self.path, exc))
            if not enable:  # systemctl enable reloads systemd itself: one reload, not two
                self.systemctl(systemctl, "daemon-reload")
        if enable:
            rc, message = self.systemctl(systemctl, "enable", "--", self.unit)
            if rc:
                raise MptcpError("systemctl enable %s failed: %s" % (self.unit, message))
        for attempt in range(START_ATTEMPTS):
            rc, message = self.systemctl(systemctl, "restart", "--", self.unit)
            if not rc:
                return
            if attempt + 1 < START_ATTEMPTS:
                time.sleep(START_RETRY_SECONDS)
        raise MptcpError("systemctl restart %s failed: %s" % (self.unit, message))

    def run(self):
        wanted = check_limits(self.wanted)
        systemctl = self.check_unit() if self.unit else None
        enter_namespace(self.params["namespace"])
        with PathManager() as kernel:
            before = kernel.limits()
        after = dict(before, **wanted)
        kernel_changes = dict((name, value) for name, value in wanted.items() if before.get(name) != value)

        diff = [{"before": before, "after": after}]
        unit = None
        write = enable = start = False
        if self.unit:
            facts, text_before = self.read_unit()
            text = limits_unit_text(wanted)
            changes = unit_changes(facts, text)
            write, enable = changes["write"], changes["enable"]
            start = changes["start"] or bool(kernel_changes)  # the unit's start sets the kernel's limits
            diff.append({"before_header": self.path, "after_header": self.path, "before": text_before, "after": text})
            unit = {"name": self.unit, "path": self.path, "written": write, "enabled": True, "active": True}
        changed = bool(kernel_changes) or write or enable or start
        if kernel_changes and not self.unit and self.module.check_mode:
            check_pyroute2()

        if changed and not self.module.check_mode:
            if self.unit:
                self.apply_unit(systemctl, text, write, enable)
            else:
                with open_netlink() as netlink:
                    netlink.set_limits(**kernel_changes)
            with PathManager() as kernel:
                after = kernel.limits()
            diff[0]["after"] = after
        return {"changed": changed, "limits": after, "previous": before, "unit": unit,
                "diff": diff if self.unit else diff[0]}


def main():
    module = namespace_argspec(
        dict(
            subflows=dict(type="int"),
            add_addr_accepted=dict(type="int"),
            unit=dict(type="str"),
        ),
    ).create_ansible_module(supports_check_mode=True)
    run_module(module, LimitsModule(module).run)


if __name__ == "__main__":
    main()
