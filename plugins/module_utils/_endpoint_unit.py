# -*- coding: utf-8 -*-
# Copyright: mptcp.multipath contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The program of the mptcp role's systemd endpoint backend
(``mptcp-endpoints.service``): it keeps the kernel's endpoints to the set
the role declared while their addresses are usable, at boot and at every
link or address event, on a host where Ansible is not running.

The role copies this file and the module_utils it imports to the host, so
the endpoints are planned (``_endpoints.plan_sync``) and applied
(``_netlink``) by the same code as mptcp_endpoint's."""

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
from ansible_collections.mptcp.multipath.plugins.module_utils._endpoints import plan_sync
from ansible_collections.mptcp.multipath.plugins.module_utils._netlink import (
    MptcpNetlink,
    interface_names,
    usable_addresses,
)

LOCK = "/run/mptcp-endpoints.lock"
USAGE = "usage: mptcp-endpoints sync|check|watch\n"


def describe(action):
    """An action as the ip command that does the same."""
    endpoint = action["endpoint"]
    if action["action"] == "delete":
        return "ip mptcp endpoint delete id %s" % endpoint["id"]
    if action["action"] == "set_flags":
        return "ip mptcp endpoint change id %s %s" % (endpoint["id"], " ".join(
            flag if flag in endpoint["flags"] else "no" + flag for flag in ("backup", "fullmesh")))
    words = ["ip mptcp endpoint add", endpoint["address"]]
    for key in ("dev", "id", "port"):
        if endpoint.get(key):
            words.append("%s %s" % (key, endpoint[key]))
    return " ".join(words + endpoint["flags"])


def sync(config, dry_run=False, out=sys.stdout):
    """Apply the declared set of ``config`` (JSON: exclusive, endpoints in
    mptcp_endpoint's form) once, printing one line per change."""
    with open(config) as handle:
        declared = json.load(handle)
    interfaces = dict((name, index) for index, name in interface_names().items())
    with open(LOCK, "w") as lock, MptcpNetlink() as kernel:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the unit and a run of the role never interleave
        actions = plan_sync(kernel.endpoints(), declared["endpoints"], interfaces, usable_addresses(),
                            exclusive=declared["exclusive"])
        for action in actions:
            out.write(describe(action) + "\n")
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


def main(argv, config):
    if len(argv) != 1 or argv[0] not in ("sync", "check", "watch"):
        sys.stderr.write(USAGE)
        return 2
    if argv[0] == "watch":
        return watch(config)
    try:
        sync(config, dry_run=argv[0] == "check")
    except (MptcpError, OSError, ValueError) as exc:
        sys.stderr.write("mptcp-endpoints: %s\n" % exc)
        return 1
    return 0
