# -*- coding: utf-8 -*-
# Copyright: mptcp.multipath contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The MPTCP path manager limits: their names and range, in this one place
(mptcp_limits, mptcp_preflight and, through them, the role read it). The
kernel's limits are read by _pm.PathManager."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.mptcp.multipath.plugins.module_utils._common import MptcpError

# net/mptcp/pm_kernel.c: MPTCP_PM_ADDR_MAX; a request with a larger value is refused whole.
LIMIT_NAMES = ("subflows", "add_addr_accepted")
LIMIT_MIN, LIMIT_MAX = 0, 8


def check_limits(limits, name=None):
    """The limits that are set (None values dropped), or an error naming the
    value out of range; ``name`` (e.g. ``mptcp_limits``) prefixes the keys.
    The callers' argument specs have checked the names and made the values
    integers."""
    where = (name + ".") if name else ""
    wanted = dict((key, value) for key, value in (limits or {}).items() if value is not None)
    for key, value in sorted(wanted.items()):
        if not LIMIT_MIN <= value <= LIMIT_MAX:
            raise MptcpError("%s%s=%s is out of range: MPTCP limits go from %d to %d"
                             % (where, key, value, LIMIT_MIN, LIMIT_MAX))
    return wanted
