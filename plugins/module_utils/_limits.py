# -*- coding: utf-8 -*-
# Copyright: mptcp.multipath contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The MPTCP path manager limits: their names and range, in this one place
(mptcp_limits, mptcp_preflight and, through them, the role read it)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.mptcp.multipath.plugins.module_utils._common import MptcpError

# net/mptcp/pm_kernel.c: MPTCP_PM_ADDR_MAX; a request with a larger value is refused whole.
LIMIT_NAMES = ("subflows", "add_addr_accepted")
LIMIT_MIN, LIMIT_MAX = 0, 8


def check_limits(limits, name=None):
    """The limits that are set (None values dropped), or an error naming the
    bad key and value; ``name`` (e.g. ``mptcp_limits``) prefixes the keys."""
    limits = limits or {}
    where = (name + ".") if name else ""
    unknown = sorted(str(key) for key in set(limits) - set(LIMIT_NAMES))
    if unknown:
        raise MptcpError("%sunknown limit(s) %s; known: %s"
                         % ((name + ": ") if name else "", ", ".join(unknown), ", ".join(LIMIT_NAMES)))
    wanted = {}
    for key in LIMIT_NAMES:
        value = limits.get(key)
        if value is None:
            continue
        # bool is an int to Python, but true/false is no limit
        if isinstance(value, bool) or not isinstance(value, int):
            raise MptcpError("%s%s must be a whole number from %d to %d, not %r"
                             % (where, key, LIMIT_MIN, LIMIT_MAX, value))
        if not LIMIT_MIN <= value <= LIMIT_MAX:
            raise MptcpError("%s%s=%s is out of range: MPTCP limits go from %d to %d"
                             % (where, key, value, LIMIT_MIN, LIMIT_MAX))
        wanted[key] = value
    return wanted
