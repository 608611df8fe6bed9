# -*- coding: utf-8 -*-
# Copyright: mptcp.multipath contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one table of MPTCP endpoint flags: each flag's kernel bit
(include/uapi/linux/mptcp.h), its NetworkManager connection.mptcp-flags bit
(libnm's NMMptcpFlags), the backends of the role whose endpoints take it, the
oldest kernel and NetworkManager that know it, and the rules on combining
flags. Every other list of flags (the modules' argument specs, nmcli's names,
the role's endpoint flags) derives from it; a unit test holds the argument
specs' choices against it."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import collections
import os

from ansible_collections.mptcp.multipath.plugins.module_utils._common import version_tuple

# The role's endpoint backends: kernel endpoints made over netlink now
# (runtime) or by its systemd unit (systemd), or NetworkManager profile flags.
BACKENDS = ("runtime", "systemd", "networkmanager")
KERNEL_BACKENDS = ("runtime", "systemd")
BACKEND_LABELS = {"runtime": "runtime", "systemd": "systemd", "networkmanager": "NetworkManager"}

Flag = collections.namedtuple("Flag", "name kernel_bit nm_bit backends min_kernel min_nm")


def _flag(name, kernel_bit=None, nm_bit=None, backends=(), min_kernel=None, min_nm=None):
    return Flag(name, kernel_bit, nm_bit, tuple(backends), min_kernel, min_nm)


# In the order the role and mptcp_preflight list them. ``backends``: the
# backends whose endpoints (the role's mptcp_endpoints[].flags) take the flag;
# none for the kernel's own ``implicit`` and for NetworkManager's profile-wide
# switches ``disabled``/``enabled`` (only mptcp_nm_profile sets those).
FLAGS = (
    _flag("signal", 0x1, 0x10, BACKENDS),
    _flag("subflow", 0x2, 0x20, BACKENDS),
    _flag("backup", 0x4, 0x40, BACKENDS),
    _flag("fullmesh", 0x8, 0x80, BACKENDS),
    _flag("laminar", 0x20, 0x100, BACKENDS, min_kernel=(6, 18), min_nm=(1, 56)),
    # NetworkManager's own: endpoints also without a default route / without net.mptcp.enabled=1
    _flag("also-without-default-route", nm_bit=0x8, backends=("networkmanager",)),
    _flag("also-without-sysctl", nm_bit=0x4, backends=("networkmanager",)),
    # set by the kernel on the endpoints it makes itself, never by a user
    _flag("implicit", kernel_bit=0x10),
    _flag("disabled", nm_bit=0x1),
    _flag("enabled", nm_bit=0x2),
)
FLAG_TABLE = collections.OrderedDict((flag.name, flag) for flag in FLAGS)

# Combinations refused on every backend: the kernel makes no sense of them and
# NetworkManager refuses them at nmcli time.
EXCLUSIVE_PAIRS = (("signal", "fullmesh"),)
# A kernel endpoint's flag that needs another one (kernel endpoints and the role's).
NEEDS = (("fullmesh", "subflow"),)
# NetworkManager flags that must stand alone.
ALONE = ("disabled",)


def _by_bit(column):
    return collections.OrderedDict(sorted(((flag.name, getattr(flag, column)) for flag in FLAGS
                                           if getattr(flag, column) is not None), key=lambda item: item[1]))


# The kernel's bits (implicit included), in bit order.
FLAG_BITS = _by_bit("kernel_bit")
# NetworkManager's connection.mptcp-flags bits, in bit order (mptcp_nm_profile's choices).
NM_FLAG_BITS = _by_bit("nm_bit")
# Flags a user may ask for on a kernel endpoint (mptcp_endpoint's choices); not `implicit`.
USER_FLAGS = tuple(flag.name for flag in FLAGS if flag.kernel_bit is not None and flag.backends)
# Flags an endpoint of the role may list (mptcp_preflight's and the role's choices).
ENDPOINT_FLAGS = tuple(flag.name for flag in FLAGS if flag.backends)
# NetworkManager flags that become kernel endpoint flags of the same name (nm-l3cfg.c).
NM_ENDPOINT_FLAGS = tuple(flag.name for flag in FLAGS if flag.kernel_bit is not None and flag.nm_bit is not None)
# The role's endpoint flags that only NetworkManager takes (no kernel bit).
NM_ONLY_FLAGS = tuple(flag.name for flag in FLAGS if flag.backends == ("networkmanager",))
# The only flags the kernel can change on a live endpoint (MPTCP_PM_CMD_SET_FLAGS).
CHANGEABLE_FLAGS = frozenset(("backup", "fullmesh"))
LAMINAR_MIN_KERNEL = FLAG_TABLE["laminar"].min_kernel
LAMINAR_MIN_NM = FLAG_TABLE["laminar"].min_nm


def backend_flags(backend):
    """The flags the endpoints of ``backend`` take."""
    return tuple(flag.name for flag in FLAGS if backend in flag.backends)


def backend_problems(flags, backend):
    """The endpoint flags of ``flags`` that ``backend`` does not take, as one
    reason naming who takes them (NetworkManager's own flags on a kernel
    endpoint); names that are no endpoint flag are left to the caller."""
    refused = [flag for flag in flags if flag in ENDPOINT_FLAGS and backend not in FLAG_TABLE[flag].backends]
    if not refused:
        return []
    owners = sorted(set(owner for flag in refused for owner in FLAG_TABLE[flag].backends))
    return ["%s not possible with the %s backend (%s only)"
            % (", ".join(refused), backend, ", ".join(BACKEND_LABELS[owner] for owner in owners))]


def combination_problems(flags, needs=True, alone=False):
    """The rules on combining flags, each broken one as a reason: the pairs no
    backend takes, with ``needs`` the flags a kernel endpoint flag needs, with
    ``alone`` the NetworkManager flags that must stand alone."""
    flags = set(flags)
    problems = []
    if alone:
        for name in ALONE:
            if name in flags and len(flags) > 1:
                problems.append("flag %s cannot be combined with other flags" % name)
    for first, second in EXCLUSIVE_PAIRS:
        if first in flags and second in flags:
            problems.append("flags %s and %s cannot be combined" % (first, second))
    if needs:
        for name, needed in NEEDS:
            if name in flags and needed not in flags:
                problems.append("flag %s needs flag %s" % (name, needed))
    return problems


def _dotted(version):
    return ".".join(map(str, version))


def version_problems(flags, kernel=None, nm=None):
    """Flags the running kernel (``kernel``, a version tuple) or NetworkManager
    (``nm``) is too old for; a version left out is not checked."""
    problems = []
    for name in flags:
        flag = FLAG_TABLE.get(name)
        if flag is None:
            continue
        if kernel is not None and flag.min_kernel and tuple(kernel[:2]) < flag.min_kernel:
            problems.append("flag %s needs kernel %s or newer" % (name, _dotted(flag.min_kernel)))
        if nm is not None and flag.min_nm and tuple(nm[:2]) < flag.min_nm:
            problems.append("flag %s needs NetworkManager %s or newer (this host has %s)"
                            % (name, _dotted(flag.min_nm), _dotted(nm)))
    return problems


def encode_flags(names, table=None):
    """The bits of flag names; ``table`` maps names to bits (the kernel's by default)."""
    table = table or FLAG_BITS
    bits = 0
    for name in names:
        bits |= table[name]
    return bits


def decode_flags(bits, table=None):
    """Names of the known bits, in the table's order; unknown bits as hex."""
    table = table or FLAG_BITS
    names = [name for name, bit in table.items() if bits & bit]
    unknown = bits & ~sum(table.values())
    if unknown:
        names.append("0x%x" % unknown)
    return names


def kernel_version(release=None):
    version = version_tuple(release or os.uname()[2])[:2]
    return version if len(version) == 2 else (0, 0)


def flag_problems(flags, port=None, kernel=None):
    """Return a list of reasons why this kernel endpoint flag set cannot work (empty if fine)."""
    flags = list(flags)
    problems = combination_problems(flags)
    if port and "signal" not in flags:
        problems.append("a port needs flag signal")
    if any(FLAG_TABLE[name].min_kernel for name in flags if name in FLAG_TABLE):
        problems += version_problems(flags, kernel=kernel or kernel_version())
    return problems
