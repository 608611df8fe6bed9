# -*- coding: utf-8 -*-
# Copyright: mptcp.multipath contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure logic of the mptcp_apps role's plan: which units get an MPTCP
drop-in, which lose theirs, which are refused, which run (and so are
restarted when their drop-in changes), and where mptcpize's library is."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

from ansible_collections.mptcp.multipath.plugins.module_utils._common import UNIT_NAME, MptcpError, version_tuple

DROPIN_NAME = re.compile(r"^[A-Za-z0-9_@:+-][A-Za-z0-9_.@:+-]*\.conf$")
RUNNING_STATES = ("active", "activating", "reloading")
LIBRARY_NAME = "libmptcpwrap.so.0"
# Where distributions put it: Debian's multiarch directories, RHEL's lib64.
LIBRARY_GLOBS = ("/usr/lib/*/mptcpize/" + LIBRARY_NAME, "/usr/lib64/mptcpize/" + LIBRARY_NAME,
                 "/usr/lib/mptcpize/" + LIBRARY_NAME)
# The package that ships the library, asked for its file list when the
# library is in none of the usual places.
PACKAGE_FILE_LISTS = (("dpkg-query", "-L", "libmptcpwrap0"), ("rpm", "-ql", "mptcpd"))


def check_unit_names(units, what="mptcp_apps_units"):
    bad = [unit for unit in units if not UNIT_NAME.match(unit)]
    if bad:
        raise MptcpError("%s must name .service or .socket units in full (template instances like "
                         "foo@bar.service are fine, bare templates are not); refused: %s"
                         % (what, ", ".join(unit or "''" for unit in bad)))


def check_dropin_name(name, what="mptcp_apps_dropin_name"):
    # systemd reads only *.conf in a drop-in directory; a "/" would write elsewhere
    if not DROPIN_NAME.match(name):
        raise MptcpError("%s must be a file name ending in .conf, without '/', not %r" % (what, name))


def unit_of_dropin(path):
    """/etc/systemd/system/<unit>.d/<drop-in> -> <unit>"""
    directory = path.rstrip("/").rsplit("/", 2)[-2]
    return directory[:-2] if directory.endswith(".d") else None


def owns(text, marker):
    """Whether a drop-in carries the role's marker at the start of a line."""
    return any(line.startswith("# " + marker) for line in (text or "").splitlines())


def parse_systemctl_show(text):
    """`systemctl show -p Id,LoadState,ActiveState,Triggers A B ...` ->
    {unit: {property: value}}, one block per unit, blocks split by blank lines."""
    units = {}
    for block in re.split(r"\n\s*\n", text or ""):
        properties = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        if properties.get("Id"):
            units[properties["Id"]] = properties
    return units


def parse_systemd_version(text):
    version = version_tuple(text)
    if not (text or "").strip().startswith("systemd ") or not version:
        raise MptcpError("cannot tell the systemd version from %r" % ((text or "").splitlines()[:1],))
    return version[0]


def plan(units, state, owned, unit_states, restart=True):
    """The whole plan, or an error naming the units systemd does not know."""
    wanted = []
    if state == "present":
        for unit in units:
            if unit not in wanted:
                wanted.append(unit)
    unknown = [unit for unit in wanted if unit_states.get(unit, {}).get("LoadState") != "loaded"]
    if unknown:
        raise MptcpError("unknown (or masked, or broken) systemd units in mptcp_apps_units: %s (LoadState %s). "
                         "Nothing was changed." % (", ".join(unknown), ", ".join(
                             unit_states.get(unit, {}).get("LoadState", "?") for unit in unknown)))
    stale = sorted(set(owned) - set(wanted))
    touched = wanted + stale
    running = [unit for unit in touched
               if unit_states.get(unit, {}).get("ActiveState") in RUNNING_STATES] if restart else []
    triggers = dict((unit, unit_states.get(unit, {}).get("Triggers", "").split())
                    for unit in touched if unit.endswith(".socket"))
    return {"units": wanted, "stale": stale, "running": running, "triggers": triggers,
            "sockets": [unit for unit in wanted if unit.endswith(".socket")],
            "services": [unit for unit in wanted if not unit.endswith(".socket")]}


def library_from_file_list(text):
    for line in (text or "").splitlines():
        if line.strip().endswith("/" + LIBRARY_NAME):
            return line.strip()
    return None
