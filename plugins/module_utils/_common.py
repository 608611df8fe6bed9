# -*- coding: utf-8 -*-
# Copyright: mptcp.multipath contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pieces every module shares: the one error type, entering a network
namespace, the single place that turns errors into ``fail_json``, and the
one rule for systemd unit names and for version numbers."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ctypes
import ctypes.util
import errno
import os
import re
import socket

CLONE_NEWNET = 0x40000000
NETNS_RUN_DIR = "/run/netns"
# A unit file name the roles write or change under /etc/systemd/system: no
# directory, no bare template (foo@.service); systemd's escapes (\x2d) allowed.
UNIT_NAME = re.compile(r"^[A-Za-z0-9:_.\\-]+(@[A-Za-z0-9:_.\\-]+)?\.(service|socket)$")


class MptcpError(Exception):
    """A failure the user can act on; ``details`` are returned beside ``msg``."""

    def __init__(self, msg, **details):
        super(MptcpError, self).__init__(msg)
        self.details = details


def interface_indexes():
    """{name: ifindex} of this network namespace."""
    return dict((name, index) for index, name in socket.if_nameindex())


class ClosesSocket(object):
    """A context manager that closes its ``sock`` when the block ends."""

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.sock.close()


def version_tuple(text):
    """The first version number in ``text`` ("nmcli tool, version 1.42.4",
    "6.18.0-1-amd64", "0.7.2", "systemd 257 (257.13-1)") as a tuple of
    integers; () when it holds none."""
    match = re.search(r"[0-9]+(\.[0-9]+)*", text or "")
    return tuple(int(part) for part in match.group(0).split(".")) if match else ()


def namespace_path(namespace):
    """Map a name as used by ``ip netns`` (or an absolute path such as
    /proc/PID/ns/net) to the file that pins the namespace."""
    if namespace.startswith("/"):
        return namespace
    if "/" in namespace or namespace in (".", ".."):
        raise MptcpError("namespace %r is not a valid network namespace name" % namespace)
    return os.path.join(NETNS_RUN_DIR, namespace)


def _setns(fd):
    if hasattr(os, "setns"):  # Python 3.12+
        os.setns(fd, CLONE_NEWNET)
        return
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def enter_namespace(namespace):
    """Move this process into a network namespace for the rest of its life.

    A module runs in a process of its own, so entering once before any
    socket or /proc/sys/net file is opened makes every later call (netlink,
    sysctl, /proc/net) act inside the namespace."""
    if not namespace:
        return
    path = namespace_path(namespace)
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            raise MptcpError("network namespace %r does not exist (no %s)" % (namespace, path))
        raise MptcpError("cannot open network namespace %r: %s" % (namespace, exc.strerror))
    try:
        _setns(fd)
    except OSError as exc:
        raise MptcpError("cannot enter network namespace %r: %s" % (namespace, exc.strerror))
    finally:
        os.close(fd)


def run_module(module, action):
    """Run ``action()`` and exit with its result dict; every MptcpError ends
    here as ``fail_json`` so modules never handle errors one by one."""
    try:
        result = action()
    except MptcpError as exc:
        module.fail_json(msg=str(exc), **exc.details)
    module.exit_json(**result)
