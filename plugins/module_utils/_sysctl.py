# -*- coding: utf-8 -*-
# Copyright: mptcp.multipath contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The net.mptcp.* sysctls: names, value checks, the runtime value in
/proc/sys and the persistent value in a sysctl.d file."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import os

from ansible_collections.mptcp.multipath.plugins.module_utils._common import MptcpError

PROC_DIR = "/proc/sys/net/mptcp"
PREFIX = "net.mptcp."
FILE_HEADER = "# Managed by Ansible (mptcp.multipath.mptcp_sysctl)\n"

BOOLEAN_KEYS = ("enabled", "checksum_enabled", "allow_join_initial_addr_port")
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")
# Seconds, stored by the kernel in jiffies: the bound keeps value * HZ in an int for any HZ <= 1000.
SECONDS_MAX = 2147483
INTEGER_RANGES = {
    "add_addr_timeout": (0, SECONDS_MAX),
    "close_timeout": (0, SECONDS_MAX),
    "blackhole_timeout": (0, SECONDS_MAX),
    "pm_type": (0, 1),
    "stale_loss_cnt": (1, 2 ** 32 - 1),
    "syn_retrans_before_tcp_fallback": (0, 255),
}
# Keys whose value must be one of the words listed in another (read-only) key.
CHOICE_SOURCES = {
    "scheduler": "available_schedulers",
    "path_manager": "available_path_managers",
}


def short_name(name):
    """'enabled', 'net.mptcp.enabled' and 'net/mptcp/enabled' all name 'enabled'."""
    dotted = name.strip().replace("/", ".")
    if dotted.startswith(PREFIX):
        return dotted[len(PREFIX):]
    if "." in dotted:
        raise MptcpError("sysctl %r is not a net.mptcp.* key" % name)
    return dotted


def available_keys():
    try:
        return sorted(os.listdir(PROC_DIR))
    except OSError:
        raise MptcpError("this kernel has no net.mptcp sysctls (%s is missing): is MPTCP built in?" % PROC_DIR)


def read_runtime(key):
    with open(os.path.join(PROC_DIR, key)) as handle:
        return " ".join(handle.read().split())


def is_writable(key):
    return bool(os.stat(os.path.join(PROC_DIR, key)).st_mode & 0o222)


def write_runtime(key, value):
    try:
        with open(os.path.join(PROC_DIR, key), "w") as handle:
            handle.write(value)
    except (IOError, OSError) as exc:
        reason = "invalid value" if exc.errno == errno.EINVAL else \
            "no such choice" if exc.errno == errno.ENOENT else exc.strerror
        raise MptcpError("the kernel refused %s%s = %s: %s" % (PREFIX, key, value, reason))


def check_key(key, keys, writable=is_writable):
    """Refuse keys this kernel lacks (naming the ones it has) and read-only ones."""
    if key not in keys:
        raise MptcpError("this kernel has no sysctl %s%s; it has: %s" % (PREFIX, key, ", ".join(keys)),
                         available=keys)
    if not writable(key):
        raise MptcpError("sysctl %s%s is read-only" % (PREFIX, key))


def check_sysctls(sysctls, keys, name="sysctls", check_values=True, writable=is_writable, choices_of=read_runtime):
    """Check a whole dict of sysctls (key: value) before any is written:
    {short name: value as the kernel prints it}, or an error naming
    ``name.key`` and the value. Without ``check_values`` only the keys are
    checked (to remove them from the file, their values do not matter)."""
    checked = {}
    for raw_key in sorted(sysctls or {}, key=str):
        value = sysctls[raw_key]
        try:
            key = short_name(str(raw_key))
            check_key(key, keys, writable)
            if not check_values:
                checked[key] = None
                continue
            if value is None or isinstance(value, (dict, list)):
                raise MptcpError("%s%s needs a one-line value, not %r" % (PREFIX, key, value))
            checked[key] = normalize_value(key, value, choices_of)
        except MptcpError as exc:
            raise MptcpError("%s.%s: %s" % (name, raw_key, exc), **exc.details)
    return checked


def normalize_value(key, value, choices_of=read_runtime):
    """The value as the kernel prints it, or an error naming the bad value.
    ``choices_of(key)`` reads a list-valued key such as available_schedulers."""
    text = str(value).strip()
    if isinstance(value, bool):
        text = "1" if value else "0"
    if key in BOOLEAN_KEYS:
        if text.lower() in TRUE_WORDS:
            return "1"
        if text.lower() in FALSE_WORDS:
            return "0"
        raise MptcpError("%s%s must be 0 or 1, not %r" % (PREFIX, key, value))
    if key in INTEGER_RANGES:
        low, high = INTEGER_RANGES[key]
        if isinstance(value, bool) or not text.lstrip("-").isdigit() or not low <= int(text) <= high:
            raise MptcpError("%s%s must be a whole number from %d to %d, not %r" % (PREFIX, key, low, high, value))
        return str(int(text))
    if key in CHOICE_SOURCES:
        choices = choices_of(CHOICE_SOURCES[key]).split()
        if text not in choices:
            raise MptcpError("%s%s must be one of %s, not %r" % (PREFIX, key, ", ".join(choices), value),
                             choices=choices)
        return text
    if not text or "\n" in text:
        raise MptcpError("%s%s needs a one-line value, not %r" % (PREFIX, key, value))
    return text  # a key newer than this module: the kernel checks it at the runtime write


def _line_key(line):
    """The normalized key a sysctl.d line sets, or None for comments and blanks."""
    stripped = line.strip()
    if not stripped or stripped[0] in "#;" or "=" not in stripped:
        return None
    return stripped.split("=", 1)[0].strip().lstrip("-").replace("/", ".")


def file_value(text, key):
    """The value the file gives the key (the last line wins, as in sysctl), or None."""
    value = None
    for line in (text or "").splitlines():
        if _line_key(line) == PREFIX + key:
            value = line.split("=", 1)[1].strip()
    return value


def update_file(text, key, value):
    """The new file content with the key set to value (None removes it).
    Returns None when nothing but this module's header would be left."""
    full = PREFIX + key
    lines, placed = [], False
    for line in (text or "").splitlines(True):
        if _line_key(line) == full:
            if value is not None and not placed:
                same = line.split("=", 1)[1].strip() == value
                # keep the user's own spelling of a line that already says the right thing
                lines.append(line if same and line.endswith("\n") else "%s = %s\n" % (full, value))
                placed = True
            continue
        lines.append(line if line.endswith("\n") else line + "\n")
    if value is not None and not placed:
        if not lines:
            lines.append(FILE_HEADER)
        lines.append("%s = %s\n" % (full, value))
    content = "".join(lines)
    if all(not line.strip() or line == FILE_HEADER for line in lines):
        return None
    return content


def planned_file(text, key, value):
    """The file's content after setting key to value (None: removing it),
    as mptcp_sysctl writes it: a file that was empty or missing is never
    deleted."""
    after = update_file(text, key, value)
    if after is None and not (text or "").strip():
        return text
    return after


def settled(wanted, file_text, read=read_runtime):
    """Whether mptcp_sysctl would change nothing for ``wanted`` ([(key,
    value)], value None to remove the key from the file), with
    ``file_text`` the sysctl file's content (False: no file is kept). Keys
    are short names, values as normalize_value returns them."""
    for key, value in wanted:
        if value is not None and read(key) != value:
            return False
        if file_text is not False:
            after = planned_file(file_text, key, value)
            if after != file_text:
                return False
    return True
