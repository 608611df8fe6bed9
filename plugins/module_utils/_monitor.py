# -*- coding: utf-8 -*-
# Copyright: mptcp.multipath contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The kernel's MPTCP path-manager events (what ``ip mptcp monitor`` prints),
read from the generic netlink family ``mptcp_pm``, multicast group
``mptcp_pm_events``, and decoded into plain dicts.

Standard library only, like _diag.py: pyroute2 (0.7 in Debian 12 and 0.9)
has no message class for MPTCP events, and its ways of resolving and joining
a generic netlink multicast group differ between those versions. A raw
AF_NETLINK socket needs one CTRL_CMD_GETFAMILY request and one setsockopt,
works the same on every Python 3 and leaves pyroute2 out of this module.

Numbers from include/uapi/linux/mptcp.h (later mptcp_pm.h, generated from
Documentation/netlink/specs/mptcp_pm.yaml) and linux/genetlink.h."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import ipaddress
import re
import socket
import struct
import time

from ansible_collections.mptcp.multipath.plugins.module_utils._common import MptcpError
from ansible_collections.mptcp.multipath.plugins.module_utils._genl import (
    GENL_HEADER,
    NETLINK_ADD_MEMBERSHIP,
    SOL_NETLINK,
    GenlSocket,
)
from ansible_collections.mptcp.multipath.plugins.module_utils._nlmsg import parse_attributes, split_messages
from ansible_collections.mptcp.multipath.plugins.module_utils._pm import FAMILY_NAME

GROUP_NAME = "mptcp_pm_events"

# enum mptcp_event_type: the generic netlink command of each event message
EVENT_TYPES = {
    1: "created",
    2: "established",
    3: "closed",
    6: "announced",
    7: "removed",
    10: "sf_established",
    11: "sf_closed",
    13: "sf_priority",
    15: "listener_created",
    16: "listener_closed",
}
EVENT_NAMES = tuple(EVENT_TYPES[number] for number in sorted(EVENT_TYPES))

# enum mptcp_event_attr
ATTR_TOKEN = 1          # u32
ATTR_FAMILY = 2         # u16
ATTR_LOC_ID = 3         # u8
ATTR_REM_ID = 4         # u8
ATTR_SADDR4 = 5         # be32
ATTR_SADDR6 = 6         # struct in6_addr
ATTR_DADDR4 = 7         # be32
ATTR_DADDR6 = 8         # struct in6_addr
ATTR_SPORT = 9          # be16
ATTR_DPORT = 10         # be16
ATTR_BACKUP = 11        # u8
ATTR_ERROR = 12         # u8
ATTR_FLAGS = 13         # u16
ATTR_TIMEOUT = 14       # u32
ATTR_IF_IDX = 15        # s32
ATTR_RESET_REASON = 16  # u32
ATTR_RESET_FLAGS = 17   # u32
ATTR_SERVER_SIDE = 18   # u8

# Plain integers: decoded by the attribute's actual length (1, 2 or 4 bytes,
# host order), so that a kernel that widens one still decodes.
_INTEGER_ATTRS = {
    ATTR_LOC_ID: "local_id",
    ATTR_REM_ID: "remote_id",
    ATTR_ERROR: "error",
    ATTR_FLAGS: "flags",
    ATTR_TIMEOUT: "timeout",
    ATTR_RESET_REASON: "reset_reason",
    ATTR_RESET_FLAGS: "reset_flags",
}
_ADDRESS_ATTRS = {
    ATTR_SADDR4: ("saddr", socket.AF_INET),
    ATTR_SADDR6: ("saddr", socket.AF_INET6),
    ATTR_DADDR4: ("daddr", socket.AF_INET),
    ATTR_DADDR6: ("daddr", socket.AF_INET6),
}
_PORT_ATTRS = {ATTR_SPORT: "sport", ATTR_DPORT: "dport"}
_INT_FORMATS = {1: "=B", 2: "=H", 4: "=I", 8: "=Q"}

MPTCP_PM_EV_FLAG_DENY_JOIN_ID0 = 0x1
MPTCP_PM_EV_FLAG_SERVER_SIDE = 0x2  # newer kernels: replaces the deprecated MPTCP_ATTR_SERVER_SIDE
# events that tell the side (MPTCP_ATTR_SERVER_SIDE, since 6.18 only when it is 1, or the flag)
_SERVER_SIDE_EVENTS = ("created", "established")

# every key of an event dict, in the order they are documented
EVENT_KEYS = ("type", "timestamp", "token", "family", "saddr", "daddr", "sport", "dport", "local_id",
              "remote_id", "backup", "ifindex", "dev", "server_side", "error", "flags", "deny_join_id0",
              "timeout", "reset_reason", "reset_flags")

# the integer keys of ``until`` (its argument spec names and types them all)
_INT_CONDITIONS = ("sport", "dport", "local_id", "remote_id", "ifindex", "error")

_GENL = GENL_HEADER


# -- decoding ------------------------------------------------------------------
def _integer(payload):
    fmt = _INT_FORMATS.get(len(payload))
    if fmt is None:
        return None
    return struct.unpack(fmt, payload)[0]


def _interface_name(ifindex):
    try:
        return socket.if_indextoname(ifindex)
    except (OSError, ValueError):
        return None


def empty_event(event_type):
    event = dict((key, None) for key in EVENT_KEYS)
    event["type"] = event_type
    return event


def decode_event(command, payload, timestamp=None, interface_name=_interface_name):
    """One mptcp_pm event (genl command and its attributes) -> a dict with
    every key of EVENT_KEYS (None for what the kernel did not send)."""
    event = empty_event(EVENT_TYPES.get(command, "event_%d" % command))
    event["timestamp"] = time.time() if timestamp is None else timestamp
    for kind, value in parse_attributes(payload):
        if kind == ATTR_TOKEN and len(value) == 4:
            event["token"] = "%08x" % struct.unpack("=I", value)[0]
        elif kind == ATTR_FAMILY and len(value) >= 2:
            family = struct.unpack_from("=H", value)[0]
            event["family"] = {socket.AF_INET: "ipv4", socket.AF_INET6: "ipv6"}.get(family, str(family))
        elif kind in _ADDRESS_ATTRS:
            key, family = _ADDRESS_ATTRS[kind]
            size = 4 if family == socket.AF_INET else 16
            if len(value) >= size:
                event[key] = socket.inet_ntop(family, value[:size])
        elif kind in _PORT_ATTRS and len(value) >= 2:
            event[_PORT_ATTRS[kind]] = struct.unpack_from("!H", value)[0]
        elif kind == ATTR_IF_IDX and len(value) == 4:
            event["ifindex"] = struct.unpack("=i", value)[0]
        elif kind == ATTR_BACKUP:
            event["backup"] = bool(_integer(value))
        elif kind == ATTR_SERVER_SIDE:
            event["server_side"] = bool(_integer(value))
        elif kind in _INTEGER_ATTRS:
            event[_INTEGER_ATTRS[kind]] = _integer(value)
    if event["family"] is None and (event["saddr"] or event["daddr"]):
        event["family"] = "ipv6" if ":" in (event["saddr"] or event["daddr"]) else "ipv4"
    if event["flags"] is not None:
        event["deny_join_id0"] = bool(event["flags"] & MPTCP_PM_EV_FLAG_DENY_JOIN_ID0)
        if event["flags"] & MPTCP_PM_EV_FLAG_SERVER_SIDE:
            event["server_side"] = True
    if event["type"] in _SERVER_SIDE_EVENTS:
        if event["server_side"] is None:
            event["server_side"] = False  # kernel 6.18+ sends the side only when it is the server
        if event["deny_join_id0"] is None:
            event["deny_join_id0"] = False  # MPTCP_ATTR_FLAGS is left out when no flag is set
    if event["ifindex"]:
        event["dev"] = interface_name(event["ifindex"])
    return event


# -- conditions and input ------------------------------------------------------
def _address(value, what):
    try:
        return str(ipaddress.ip_address(str(value).strip()))
    except ValueError:
        raise MptcpError("%s: %r is not an IPv4 or IPv6 address" % (what, value))


def normalize_token(value, what="token"):
    text = str(value).strip().lower()
    if text.startswith("0x"):
        text = text[2:]
    if not re.match(r"^[0-9a-f]{1,8}$", text):
        raise MptcpError("%s: %r is not a connection token (up to 8 hex digits, as ip mptcp monitor prints it)"
                         % (what, value))
    return "%08x" % int(text, 16)


def normalize_condition(condition):
    """The ``until`` dict in canonical form. The module's argument spec has
    checked names, types and choices; what is left is what it cannot know:
    tokens and addresses in one spelling, numbers not below zero. Keys left
    out (None, as Ansible passes unset suboptions) do not take part."""
    result = {}
    for key, value in condition.items():
        if value is None:
            continue
        what = "until.%s" % key
        if key == "token":
            value = normalize_token(value, what)
        elif key in ("saddr", "daddr"):
            value = _address(value, what)
        elif key in _INT_CONDITIONS and value < 0:
            raise MptcpError("%s: %r is below zero" % (what, value))
        result[key] = value
    return result


def matches(event, condition):
    """Whether an event satisfies every key of a normalized condition."""
    for key, wanted in condition.items():
        have = event.get("type") if key == "event" else event.get(key)
        if key == "server_side" and have is None:
            have = False
        if have != wanted:
            return False
    return True


def describe_condition(condition):
    """``event=...`` first, then the other keys in alphabetical order."""
    return " ".join("%s=%s" % (key, condition[key]) for key in sorted(condition, key=lambda key: (key != "event", key)))


def describe_event(event):
    """One line in the manner of ``ip mptcp monitor``."""
    parts = [event["type"].upper()]
    for key in ("token", "local_id", "remote_id", "saddr", "daddr", "sport", "dport", "backup", "dev",
                "server_side", "error"):
        if event.get(key) is not None:
            value = event[key]
            parts.append("%s=%s" % (key, int(value) if isinstance(value, bool) else value))
    return " ".join(parts)


def normalize_params(params):
    """timeout, until, events and max_events of the module's params (typed by
    its argument spec), with the ranges checked."""
    timeout = params["timeout"]
    if not timeout > 0:
        raise MptcpError("timeout: %r is not a positive number of seconds" % (timeout,))
    max_events = params.get("max_events")
    if max_events is not None and max_events < 1:
        raise MptcpError("max_events: %r is not a positive integer" % (max_events,))
    events = params.get("events")
    if events is not None:
        if not events:
            raise MptcpError("events: an empty list would keep nothing; leave it out to keep every event")
        events = list(dict((event, None) for event in events))  # each once, in their order
    until = params.get("until")
    if until is not None:
        until = normalize_condition(until)
    return {"timeout": float(timeout), "until": until, "events": events, "max_events": max_events}


# -- listening -----------------------------------------------------------------
class EventSocket(GenlSocket):
    """A generic netlink socket that joined the mptcp_pm_events group of the
    current network namespace (enter the namespace before opening it)."""

    def __init__(self):
        GenlSocket.__init__(self, receive_buffer=1 << 20)
        try:
            self.family_id, groups = self.resolve(FAMILY_NAME)
            if GROUP_NAME not in groups:
                raise MptcpError("the kernel's %s family has no %s multicast group (groups: %s)"
                                 % (FAMILY_NAME, GROUP_NAME, ", ".join(sorted(groups)) or "none"))
            try:
                self.sock.setsockopt(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, groups[GROUP_NAME])
            except OSError as exc:
                if exc.errno == errno.EPERM:
                    raise MptcpError("permission denied: listening to MPTCP events needs CAP_NET_ADMIN "
                                     "(run the task with become)")
                raise MptcpError("cannot join the %s multicast group: %s" % (GROUP_NAME, exc.strerror))
        except BaseException:
            self.sock.close()
            raise

    def receive(self, timeout):
        """The events of one read, or [] when ``timeout`` seconds pass first.
        Returns (events, overrun) where overrun tells that the kernel dropped
        events because the socket buffer was full."""
        self.sock.settimeout(max(timeout, 0.001))
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return [], False
        except OSError as exc:
            if exc.errno == errno.ENOBUFS:
                return [], True
            if exc.errno == errno.EINTR:
                return [], False
            raise MptcpError("reading MPTCP events failed: %s" % exc.strerror)
        now = time.time()
        events = [decode_event(_GENL.unpack_from(payload)[0], payload[_GENL.size:], timestamp=now)
                  for kind, payload in split_messages(data)
                  if kind == self.family_id and len(payload) >= _GENL.size]
        return events, False


def monitor(source, timeout, until=None, events=None, max_events=None, clock=time.monotonic):
    """Collect events from ``source`` (an EventSocket or anything with the
    same ``receive``) until the time is up, ``until`` matched or
    ``max_events`` were kept; each event gets its ``line`` (``describe_event``). Returns the module's result; raises
    MptcpError, with the events seen, when ``until`` was not met."""
    started = clock()
    deadline = started + timeout
    kept, matched, stopped, warnings, seen = [], None, "timeout", [], 0
    while stopped == "timeout":
        remaining = deadline - clock()
        if remaining <= 0:
            break
        batch, overrun = source.receive(remaining)
        if overrun and not warnings:
            warnings.append("the kernel dropped MPTCP events because they came faster than they were read; "
                            "the list is incomplete")
        for event in batch:
            seen += 1
            # the event as ip mptcp monitor would print it, for the playbooks to show
            event = dict(event, line=describe_event(event))
            if events is None or event["type"] in events:
                kept.append(event)
            if until is not None and matches(event, until):
                matched, stopped = event, "until"
                break
            if max_events is not None and len(kept) >= max_events:
                stopped = "max_events"
                break
    elapsed = round(clock() - started, 3)
    result = {"changed": False, "events": kept, "elapsed": elapsed, "stopped": stopped}
    if until is not None:
        if matched is None:
            why = "%g seconds passed" % timeout if stopped == "timeout" else "max_events=%d events were kept" % max_events
            listed = "; ".join(describe_event(event) for event in kept) or "none"
            if seen > len(kept):
                listed += " (and %d event(s) not kept because of events)" % (seen - len(kept))
            details = dict(result, matched=None)
            details.pop("changed")
            raise MptcpError("no MPTCP event matched until (%s) before %s; events seen: %s"
                             % (describe_condition(until), why, listed), **details)
        result["matched"] = matched
    if warnings:
        result["warnings"] = warnings
    return result
