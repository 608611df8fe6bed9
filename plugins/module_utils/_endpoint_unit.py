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

import errno
import fcntl
import json
import select
import socket
import sys

from ansible_collections.mptcp.multipath.plugins.module_utils._common import MptcpError, interface_indexes
from ansible_collections.mptcp.multipath.plugins.module_utils._endpoints import ip_command, plan_sync
from ansible_collections.mptcp.multipath.plugins.module_utils._netlink import (
    MptcpNetlink,
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


# The rtnetlink multicast groups of `ip monitor link address`
# (linux/rtnetlink.h): link state, IPv4 and IPv6 addresses.
RTMGRP_LINK = 0x1
RTMGRP_IPV4_IFADDR = 0x10
RTMGRP_IPV6_IFADDR = 0x100
# How long the events of one burst (a link going down drops several
# addresses) may be apart and still make one sync.
QUIET = 0.2


def subscribe():
    """A netlink socket that receives the kernel's link and address events.
    A plain socket: only "something changed" matters (sync reads the state
    itself), and pyroute2 0.9's IPRoute reads several events ahead into its
    own queue, where a select() on its socket no longer sees them."""
    events = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    events.bind((0, RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR))
    return events


def _event(events, timeout=None):
    """Wait up to ``timeout`` seconds (None: for ever) for an event and take
    it: True when one came, False when none did, None when the socket ended."""
    if not select.select([events], [], [], timeout)[0]:
        return False
    try:
        return bool(events.recv(65536)) or None
    except OSError as exc:
        if exc.errno != errno.ENOBUFS:
            raise
        # the socket's buffer overflowed: events were lost, the sync covers them
        sys.stderr.write("mptcp-endpoints: link and address events lost (%s), syncing\n" % exc)
        return True


def _next_burst(events):
    """Wait for the next event and take the rest of its burst: False when
    the events ended or cannot be read (said on stderr)."""
    try:
        if not _event(events):
            return False
        while _event(events, QUIET):
            pass
        return True
    except OSError as exc:
        sys.stderr.write("mptcp-endpoints: link and address events: %s\n" % exc)
        return False


def watch(config, events=None):
    """sync now and after every burst of link or address events. Returns 1
    (systemd restarts the unit) when the events end."""
    events = events or subscribe()  # before the first sync: no change slips between them
    try:
        while True:
            try:
                sync(config)
            except MptcpError as exc:  # the next event tries again
                sys.stderr.write("mptcp-endpoints: %s\n" % exc)
            if not _next_burst(events):
                return 1
    finally:
        events.close()


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
