# -*- coding: utf-8 -*-
# Copyright: mptcp.multipath contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The program of the mptcp role's systemd endpoint backend
(``mptcp-endpoints.service``): it keeps the kernel's endpoints to the set
the role declared while their addresses are usable, at boot and at every
link or address event, on a host where Ansible is not running.

The role copies this file and the module_utils it imports to the host, so
the endpoints are planned (``_endpoints.plan_sync``) and applied
(``_netlink``) by the same code as mptcp_endpoint's. The unit runs it as
``python3 -m ansible_collections.mptcp.multipath.plugins.module_utils._endpoint_unit
sync|check|watch CONFIG`` with PYTHONPATH naming that copy."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import fcntl
import json
import os
import select
import subprocess
import sys
import time

from ansible_collections.mptcp.multipath.plugins.module_utils._common import MptcpError
from ansible_collections.mptcp.multipath.plugins.module_utils._endpoints import ip_command, plan_sync
from ansible_collections.mptcp.multipath.plugins.module_utils._netlink import (
    MptcpNetlink,
    interface_indexes,
    usable_addresses,
)

LOCK = "/run/mptcp-endpoints.lock"
USAGE = "usage: mptcp-endpoints sync|check|watch CONFIG\n"


def sync(config, dry_run=False, out=sys.stdout):
    """Apply the declared set of ``config`` (JSON: exclusive, endpoints in
    mptcp_endpoint's form) once, printing one line per change."""
    with open(config) as handle:
        declared = json.load(handle)
    interfaces = interface_indexes()
    with open(LOCK, "w") as lock, MptcpNetlink() as kernel:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the unit and a run of the role never interleave
        actions = plan_sync(kernel.endpoints(), declared["endpoints"], interfaces, usable_addresses(),
                            exclusive=declared["exclusive"])
        for action in actions:
            out.write(ip_command(action) + "\n")
            if not dry_run:
                kernel.apply([action])
    out.flush()


def watch(config):
    """sync at every event ``ip monitor link address`` reports; the events of
    one burst (a link going down drops several addresses) make one sync."""
    monitor = subprocess.Popen(["ip", "-o", "monitor", "link", "address"], stdout=subprocess.PIPE)
    events = monitor.stdout.fileno()
    time.sleep(1)  # what changed between the unit's first sync and the monitor's start
    try:
        while True:
            try:
                sync(config)
            except MptcpError as exc:  # the next event tries again
                sys.stderr.write("mptcp-endpoints: %s\n" % exc)
            if not os.read(events, 65536):
                return 1  # ip monitor ended: systemd restarts the unit
            while select.select([events], [], [], 0.2)[0] and os.read(events, 65536):
                pass
    finally:
        monitor.kill()
        monitor.wait()


def main(argv):
    if len(argv) != 2 or argv[0] not in ("sync", "check", "watch"):
        sys.stderr.write(USAGE)
        return 2
    config = argv[1]
    if argv[0] == "watch":
        return watch(config)
    try:
        sync(config, dry_run=argv[0] == "check")
    except (MptcpError, OSError, ValueError) as exc:
        sys.stderr.write("mptcp-endpoints: %s\n" % exc)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))  # a program run with python -m, not a module: no exit_json
