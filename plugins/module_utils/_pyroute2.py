# -*- coding: utf-8 -*-
# Copyright: mptcp.multipath contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which pyroute2 the modules need, and whether this host has it: found by
``_netlink`` when it imports pyroute2, and by ``probe()`` without importing
it (mptcp_preflight, on every run: importing pyroute2 0.7's package loads
all of it, ~0.15 s of a host's CPU)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import sys

from ansible_collections.mptcp.multipath.plugins.module_utils._common import version_tuple

# The oldest pyroute2 the modules are tested with (Debian 12's); its MPTCP
# socket exists since 0.5.19, so e.g. Debian 11's 0.5.14 cannot work.
PYROUTE2_MIN_VERSION = (0, 7)
NO_MPTCP = "has no MPTCP support"
TOO_OLD = "is older than the modules are tested with"


def installed_version():
    """The installed pyroute2's version as a string, or None: its package
    metadata, since ``pyroute2.__version__`` is "unknown" in Debian's 0.7."""
    try:
        try:
            from importlib.metadata import version  # Python 3.8+
            return version("pyroute2")
        except ImportError:
            from pkg_resources import get_distribution  # older Pythons (RHEL 8's 3.6)
            return get_distribution("pyroute2").version
    except Exception:  # pylint: disable=broad-except  # no metadata: the capability check decides
        return None


def too_old(version):
    return bool(version) and version_tuple(version) < PYROUTE2_MIN_VERSION


def unsupported_message(version, reason):
    """The message every use of an unusable pyroute2 fails with; it names the version needed."""
    needed = ".".join(map(str, PYROUTE2_MIN_VERSION))
    return ("pyroute2 %s of %s on this host %s: mptcp.multipath needs pyroute2 %s or newer "
            "(Debian 12's python3-pyroute2 is 0.7.2; or pip install 'pyroute2>=%s')"
            % (version or "(version unknown)", sys.executable, reason, needed, needed))


def probe():
    """(installed, unsupported message or None), without importing pyroute2:
    its package is found on the import path, its MPTCP support by its
    ``netlink/generic/mptcp.py`` (what ``_netlink`` imports)."""
    try:
        from importlib.util import find_spec  # Python 3.4+
        spec = find_spec("pyroute2")  # a top-level name: nothing of the package is run
    except (ImportError, ValueError):
        return False, None
    if spec is None:
        return False, None
    version = installed_version()
    locations = list(spec.submodule_search_locations or [])
    if not any(os.path.exists(os.path.join(path, "netlink", "generic", "mptcp.py")) for path in locations):
        return True, unsupported_message(version, NO_MPTCP)
    if too_old(version):
        return True, unsupported_message(version, TOO_OLD)
    return True, None
