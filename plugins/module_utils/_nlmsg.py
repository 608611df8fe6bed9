# -*- coding: utf-8 -*-
# Copyright: mptcp.multipath contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Netlink framing with the standard library only: the one splitter of
datagrams into messages and the one attribute parser, used by every reader
that does not go through pyroute2 (sock_diag, generic netlink events).

Both stop at the first truncated or malformed item instead of raising, so a
short read never turns into a Python exception."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import struct

NLM_F_REQUEST = 0x1
NLM_F_DUMP = 0x300
NLMSG_ERROR = 2
NLMSG_DONE = 3
NLA_TYPE_MASK = 0x3fff  # without NLA_F_NESTED / NLA_F_NET_BYTEORDER

HEADER = struct.Struct("=IHHII")  # nlmsghdr: length, type, flags, sequence, port id
ATTRIBUTE = struct.Struct("=HH")  # nlattr: length, type
_ERRNO = struct.Struct("=i")


def align(length):
    return (length + 3) & ~3


def split_messages(data):
    """[(nlmsg_type, payload)] of one datagram read from a netlink socket."""
    messages, offset = [], 0
    while offset + HEADER.size <= len(data):
        length, kind = HEADER.unpack_from(data, offset)[:2]
        if length < HEADER.size or offset + length > len(data):
            break
        messages.append((kind, data[offset + HEADER.size:offset + length]))
        offset += align(length)
    return messages


def parse_attributes(data, offset=0):
    """[(type, payload)] of a run of netlink attributes starting at offset."""
    attributes = []
    while offset + ATTRIBUTE.size <= len(data):
        length, kind = ATTRIBUTE.unpack_from(data, offset)
        if length < ATTRIBUTE.size or offset + length > len(data):
            break
        attributes.append((kind & NLA_TYPE_MASK, data[offset + ATTRIBUTE.size:offset + length]))
        offset += align(length)
    return attributes


def attribute(kind, value):
    """One attribute, padded to the 4-byte boundary."""
    packed = ATTRIBUTE.pack(ATTRIBUTE.size + len(value), kind) + value
    return packed + b"\0" * (align(len(packed)) - len(packed))


def message(kind, flags, sequence, body):
    return HEADER.pack(HEADER.size + len(body), kind, flags, sequence, 0) + body


def error_code(payload):
    """The errno of an NLMSG_ERROR payload (0 is an acknowledgement); a
    payload too short to hold one is a protocol error."""
    if len(payload) < _ERRNO.size:
        return errno.EPROTO
    return -_ERRNO.unpack_from(payload)[0]
