# -*- coding: utf-8 -*-
# Copyright: mptcp.multipath contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The systemd units of the collection: reading a unit's file and state
(mptcp_preflight, mptcp_limits), the limits unit's text, and whether a unit
is already as wanted. In this one place so that mptcp_limits (which writes
the limits unit), mptcp_preflight (which reads it) and the mptcp_limits_settled
filter (which lets the role skip a settled unit) agree to the byte.

Not part of the collection's public API."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import os
import pwd

from ansible_collections.mptcp.multipath.plugins.module_utils._common import UNIT_NAME, MptcpError

SYSTEMD_UNIT_DIR = "/etc/systemd/system"
# Exists only while systemd runs as the init (sd_booted()).
SYSTEMD_RUN_DIR = "/run/systemd/system"
UNIT_MODE = "0644"
UNIT_OWNER = "root"

# The seed's set_mptcp_limit.service (34.4), run at every boot: NetworkManager
# makes endpoints but never sets limits. RemainAfterExit keeps it "active"
# after its command ran, so that systemctl shows it was applied.
_LIMITS_UNIT = """\
# Managed by Ansible (mptcp.multipath.mptcp_limits)
# NetworkManager makes endpoints but never sets MPTCP limits; this unit does,
# at every boot (the seed's set_mptcp_limit.service).
[Unit]
Description=Set the MPTCP path manager limits
After=network.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=ip mptcp limits set%s

[Install]
WantedBy=multi-user.target
"""


def limits_unit_text(limits):
    """The limits unit for ``limits`` ({name: int}); names in sorted order,
    so that the same limits always give the same file."""
    return _LIMITS_UNIT % "".join(" %s %d" % (name, value) for name, value in sorted(limits.items()))


def checksum(text):
    """SHA-1 of a file's text, as file_facts and ansible.builtin.stat give it."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def check_service_name(unit, name):
    """A unit file name under /etc/systemd/system: a .service, no path."""
    if not (UNIT_NAME.match(str(unit or "")) and unit.endswith(".service")):
        raise MptcpError("%s %r is not a systemd service name (a name like example.service, no directory)"
                         % (name, unit))


def file_facts(path):
    """What the role's template and file tasks would compare of ``path``:
    whether it exists, its SHA-1 (as ansible.builtin.stat's checksum), mode
    and owner, so that the role can leave a file that is already right
    without a remote task of its own."""
    try:
        info = os.stat(path)
    except OSError:
        return {"exists": False, "checksum": None, "mode": None, "owner": None}
    digest = None
    if os.path.isfile(path):
        with open(path, "rb") as handle:
            digest = hashlib.sha1(handle.read()).hexdigest()
    try:
        owner = pwd.getpwuid(info.st_uid).pw_name
    except KeyError:
        owner = str(info.st_uid)
    return {"exists": True, "checksum": digest, "mode": "%04o" % (info.st_mode & 0o7777), "owner": owner}


def parse_unit_states(text, units):
    """{unit: {enabled, active}} from ``systemctl show
    --property=UnitFileState,ActiveState UNIT...`` (one block a unit, in
    order, blank lines between)."""
    blocks = text.strip().split("\n\n") if text.strip() else []
    states = {}
    for unit, block in zip(units, blocks):
        values = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        states[unit] = {"enabled": values.get("UnitFileState") or None, "active": values.get("ActiveState") or None}
    return states


def read_units(module, names, unit_dir=SYSTEMD_UNIT_DIR, run_dir=SYSTEMD_RUN_DIR):
    """{name: file_facts + enabled + active} of unit files in ``unit_dir``;
    systemd is asked (one systemctl run) only about those that exist, and
    only where it runs."""
    units = dict((name, dict(file_facts(os.path.join(unit_dir, name)), enabled=None, active=None))
                 for name in names)
    present = [name for name in names if units[name]["exists"]]
    systemctl = module.get_bin_path("systemctl")
    if present and systemctl and os.path.isdir(run_dir):
        rc, out, dummy = module.run_command([systemctl, "show", "--property=UnitFileState,ActiveState", "--"] + present)
        if rc == 0:
            for name, state in parse_unit_states(out, present).items():
                units[name].update(state)
    return units


def unit_changes(facts, text):
    """What makes the unit whose ``facts`` (read_units) are given ``text``,
    with the role's mode and owner, enabled and active: ``write`` its file
    (absent, or another text, mode or owner), ``enable`` it, ``start`` it
    (written, or not active)."""
    write = not (facts.get("checksum") == checksum(text) and facts.get("mode") == UNIT_MODE
                 and facts.get("owner") == UNIT_OWNER)
    return {"write": write, "enable": facts.get("enabled") != "enabled",
            "start": write or facts.get("active") != "active"}


def unit_settled(facts, text):
    """Nothing to write, enable nor start (unit_changes)."""
    return bool(facts) and not any(unit_changes(facts, text).values())


def limits_settled(kernel_limits, limits, unit_facts=None):
    """The kernel already has ``limits`` and, when ``unit_facts`` is given
    (a persistent configuration), the limits unit is already right: the
    role's limits task has nothing to do."""
    if any((kernel_limits or {}).get(name) != value for name, value in limits.items()):
        return False
    return unit_facts is None or unit_settled(unit_facts, limits_unit_text(limits))
