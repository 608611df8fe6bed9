# -*- coding: utf-8 -*-
# Copyright: mptcp.multipath contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The linkdown-route sysctls of the mptcp role's mptcp_nm_ignore_carrier:
which keys the planned links need (``ignore_routes_with_linkdown``, IPv4 and
IPv6), the sysctl.d file that keeps them, and which writes bring the kernel
there from what it has now, also undoing the keys an earlier file named.
The role wires it through the mptcp_linkdown_sysctls filter.

Not part of the collection's public API."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

FILE_HEADER = ("# Managed by Ansible (mptcp.multipath.mptcp, mptcp_nm_ignore_carrier): no route of a\n"
               "# planned MPTCP link is taken while it has no carrier.\n")
_KEY = re.compile(r"^(net\.ipv[46]\.conf\.\S+\.ignore_routes_with_linkdown)\s*=\s*(\S*)\s*$")


def keys(interfaces):
    """The two keys of each interface, its dots written as slashes (how
    sysctl and sysctl.d name an interface like eth0.100)."""
    return ["net.%s.conf.%s.ignore_routes_with_linkdown" % (family, name.replace(".", "/"))
            for name in interfaces for family in ("ipv4", "ipv6")]


def file_text(interfaces):
    """The sysctl.d file for ``interfaces`` (None: no file)."""
    if not interfaces:
        return None
    return FILE_HEADER + "".join("%s = 1\n" % key for key in keys(interfaces))


def parse(text):
    """{key: value} of the linkdown-route lines of a sysctl.d file or of
    ``sysctl`` output (both ``key = value``); other lines are left out."""
    found = {}
    for line in (text or "").splitlines():
        match = _KEY.match(line.strip())
        if match:
            found[match.group(1)] = match.group(2)
    return found


def plan(interfaces, file_before="", now=""):
    """What the role does: ``read``, the keys to read now (the wanted ones,
    then those the earlier file named); ``file``, the text to keep (None:
    remove it); ``writes``, ``key=value`` arguments for ``sysctl -w`` that
    make the wanted keys 1 and the earlier ones 0, only for keys the kernel
    has (``now``: what ``sysctl -e`` printed of ``read``) and whose value
    differs."""
    wanted = keys(interfaces)
    earlier = [key for key in parse(file_before) if key not in wanted]
    values = parse(now)
    writes = ["%s=1" % key for key in wanted if key in values and values[key] != "1"]
    writes += ["%s=0" % key for key in earlier if key in values and values[key] != "0"]
    return {"read": wanted + earlier, "file": file_text(interfaces), "writes": writes}
