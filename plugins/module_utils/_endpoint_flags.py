# -*- coding: utf-8 -*-
# Copyright: mptcp.multipath contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Endpoint flag names and the kernel's bits (include/uapi/linux/mptcp.h)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

from ansible_collections.mptcp.multipath.plugins.module_utils._common import version_tuple

FLAG_BITS = {
    "signal": 0x1,
    "subflow": 0x2,
    "backup": 0x4,
    "fullmesh": 0x8,
    "implicit": 0x10,
    "laminar": 0x20,
}
# Flags a user may ask for; `implicit` is only ever set by the kernel.
USER_FLAGS = ("signal", "subflow", "backup", "fullmesh", "laminar")
# The only flags the kernel can change on a live endpoint (MPTCP_PM_CMD_SET_FLAGS).
CHANGEABLE_FLAGS = frozenset(("backup", "fullmesh"))
LAMINAR_MIN_KERNEL = (6, 18)


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
    """Return a list of reasons why this flag set cannot work (empty if fine)."""
    flags = set(flags)
    problems = []
    if "signal" in flags and "fullmesh" in flags:
        problems.append("flags signal and fullmesh cannot be combined")
    if "fullmesh" in flags and "subflow" not in flags:
        problems.append("flag fullmesh needs flag subflow")
    if port and "signal" not in flags:
        problems.append("a port needs flag signal")
    if "laminar" in flags and (kernel or kernel_version()) < LAMINAR_MIN_KERNEL:
        problems.append("flag laminar needs kernel %d.%d or newer" % LAMINAR_MIN_KERNEL)
    return problems
