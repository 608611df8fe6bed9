# -*- coding: utf-8 -*-
# Copyright: mptcp.multipath contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure logic of mptcp_endpoint: check what the user asked for and plan the
kernel calls that turn the current endpoints into the wanted ones.
Nothing here talks to the kernel, so all of it is unit-tested."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import ipaddress

from ansible_collections.mptcp.multipath.plugins.module_utils._common import MptcpError
from ansible_collections.mptcp.multipath.plugins.module_utils._endpoint_flags import (
    CHANGEABLE_FLAGS,
    USER_FLAGS,
    flag_problems,
)

MAX_ENDPOINTS = 8
MIN_ID, MAX_ID = 1, 255


def _key(where, key):
    """How a message names a field: ``endpoints[2].address``, or ``address``."""
    return "%s.%s" % (where, key) if where else key


def interface_key(endpoint):
    """The key that names an endpoint's interface: ``interface`` in a role
    endpoint, ``dev`` in a module endpoint (docs/development.md, "Endpoints")."""
    return "interface" if "interface" in endpoint else "dev"


def parse_address(value, name="address"):
    """A normalized address string, or an error naming ``name`` and the bad value."""
    text = str(value).strip()
    if "%" in text:
        # ipaddress takes "fe80::1%eth0" since Python 3.9 and the kernel would
        # get the zone too; an endpoint is bound to an interface by dev instead.
        raise MptcpError("%s %r has a zone index (%%...): an MPTCP endpoint needs a plain address; "
                         "bind it to an interface with the interface (dev) key instead" % (name, value))
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        raise MptcpError("%s %r is not a valid IPv4 or IPv6 address" % (name, value))
    for test, kind in (("is_unspecified", "the unspecified address"), ("is_loopback", "a loopback address"),
                       ("is_link_local", "a link-local address"), ("is_multicast", "a multicast address")):
        if getattr(ip, test):
            raise MptcpError("%s %s is %s; an MPTCP endpoint needs a routable unicast address" % (name, ip, kind))
    if ip.version == 4 and ip == ipaddress.IPv4Address("255.255.255.255"):
        raise MptcpError("%s %s is the broadcast address; an MPTCP endpoint needs a unicast address" % (name, ip))
    return str(ip)


def normalize_spec(raw, interfaces, kernel=None, need_address=True, where=None, extra_flags=()):
    """Check one endpoint as the user wrote it, a module endpoint or a role
    endpoint, and return its endpoint spec (docs/development.md, "Endpoints").

    This is the one endpoint normalizer: mptcp_endpoint and, for either
    backend, mptcp_preflight use it. ``interfaces`` maps interface names to
    indexes in the target namespace. Messages name the fields as
    ``<where>.<key>``, with the keys of ``raw`` (``interface_key``).
    ``extra_flags`` are accepted beside the kernel's (NetworkManager's own
    flags) and left out of ``spec["flags"]``."""
    spec = {"address": None, "id": None, "port": 0, "flags": [], "dev": None, "ifindex": 0}
    if raw.get("address") is not None:
        spec["address"] = parse_address(raw["address"], _key(where, "address"))
    elif need_address:
        if where:
            raise MptcpError("%s needs an address" % where)
        raise MptcpError("an endpoint needs an address: %r" % (raw,))

    endpoint_id = raw.get("id")
    if endpoint_id is not None:
        if isinstance(endpoint_id, bool) or not isinstance(endpoint_id, int) or not MIN_ID <= endpoint_id <= MAX_ID:
            raise MptcpError("%s %s is out of range: ids go from %d to %d"
                             % (_key(where, "id") if where else "endpoint id", endpoint_id, MIN_ID, MAX_ID))
        spec["id"] = endpoint_id

    port = raw.get("port")
    if port:
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise MptcpError("%s %s is out of range 1..65535" % (_key(where, "port"), port))
        spec["port"] = port

    dev_key = interface_key(raw)
    dev = raw.get(dev_key)
    if dev is not None and not str(dev).strip() and where:
        raise MptcpError("%s is empty: name an interface or leave the key out" % _key(where, dev_key))
    if dev:
        if dev not in interfaces:
            raise MptcpError("%s %r does not exist here; interfaces: %s"
                             % (_key(where, dev_key) if where else "interface", dev,
                                ", ".join(sorted(interfaces))), interfaces=sorted(interfaces))
        spec["dev"], spec["ifindex"] = dev, interfaces[dev]

    flags = list(raw.get("flags") or [])
    known = USER_FLAGS + tuple(extra_flags)
    unknown = [flag for flag in flags if flag not in known]
    if unknown:
        raise MptcpError("%sunknown endpoint flag(s) %s; known flags: %s"
                         % (_key(where, "flags") + ": " if where else "", ", ".join(map(str, unknown)),
                            ", ".join(known)))
    spec["flags"] = [flag for flag in USER_FLAGS if flag in flags]
    problems = flag_problems(spec["flags"], port=spec["port"], kernel=kernel)
    if problems:
        raise MptcpError("%s: %s" % (where or "endpoint %s" % (spec["address"] or spec["id"]), "; ".join(problems)))
    return spec


def check_unique(specs, name=None):
    """No address or explicit id may be wanted twice (``name``: the list's name in messages)."""
    where = (name + ": ") if name else ""
    seen_addresses, seen_ids = set(), set()
    for spec in specs:
        if spec["address"] in seen_addresses:
            raise MptcpError("%saddress %s is listed more than once" % (where, spec["address"]))
        seen_addresses.add(spec["address"])
        if spec["id"] is not None:
            if spec["id"] in seen_ids:
                raise MptcpError("%sendpoint id %s is listed more than once" % (where, spec["id"]))
            seen_ids.add(spec["id"])


def describe_endpoint(endpoint, with_id=False):
    """One endpoint as one line, in the words of ``ip mptcp endpoint`` (the id
    only ``with_id``: NetworkManager's endpoints get a new one at every add)."""
    words = [endpoint["address"]]
    if endpoint.get("port"):
        words.append("port %d" % endpoint["port"])
    if with_id and endpoint.get("id"):
        words.append("id %d" % endpoint["id"])
    words.extend(endpoint.get("flags") or [])
    if endpoint.get("dev"):
        words.append("dev %s" % endpoint["dev"])
    return " ".join(words)


def ip_command(action):
    """An action of a plan as the ``ip mptcp`` command that does the same."""
    endpoint = action["endpoint"]
    if action["action"] == "delete":
        return "ip mptcp endpoint delete id %s" % endpoint["id"]
    if action["action"] == "set_flags":
        return "ip mptcp endpoint change id %s %s" % (endpoint["id"], " ".join(
            flag if flag in endpoint["flags"] else "no" + flag for flag in ("backup", "fullmesh")))
    return "ip mptcp endpoint add " + describe_endpoint(endpoint, with_id=True)


def _needs_readd(current, spec):
    """True when only delete + add can turn current into spec: the kernel
    changes backup and fullmesh in place, nothing else."""
    if "implicit" in current["flags"]:
        return True  # kernel-made; replace it with a real endpoint
    if spec["id"] is not None and spec["id"] != current["id"]:
        return True
    if spec["ifindex"] and spec["ifindex"] != current["ifindex"]:
        return True
    if spec["port"] != current["port"]:
        return True
    return bool((set(spec["flags"]) ^ set(current["flags"])) - CHANGEABLE_FLAGS)


def _describe(spec):
    return dict((key, spec[key]) for key in ("id", "address", "port", "flags", "dev", "ifindex"))


def plan_present(current, specs, exclusive=False, keep_implicit=True):
    """Actions (dicts with ``action`` delete / set_flags / add and the
    ``endpoint``) that make every spec present; with ``exclusive`` every other
    endpoint the user made goes too, and the kernel's own (``implicit``)
    unless ``keep_implicit``. Deletes come first, then changes, then adds, so
    ids and addresses are free when they are reused."""
    check_unique(specs)
    by_address = dict((endpoint["address"], endpoint) for endpoint in current)
    wanted_addresses = set(spec["address"] for spec in specs)
    deletes, changes, adds = [], [], []

    if exclusive:
        for endpoint in current:
            if endpoint["address"] not in wanted_addresses and not (keep_implicit and "implicit" in endpoint["flags"]):
                deletes.append({"action": "delete", "endpoint": endpoint})

    for spec in specs:
        existing = by_address.get(spec["address"])
        if existing is None:
            adds.append({"action": "add", "endpoint": _describe(spec)})
        elif _needs_readd(existing, spec):
            deletes.append({"action": "delete", "endpoint": existing})
            readd = _describe(spec)
            if readd["id"] is None and "implicit" not in existing["flags"]:
                readd["id"] = existing["id"]  # keep the id stable across a re-add
            adds.append({"action": "add", "endpoint": readd})
        elif set(spec["flags"]) != set(existing["flags"]):
            changed = dict(existing, flags=list(spec["flags"]))
            changes.append({"action": "set_flags", "endpoint": changed, "before": existing})

    actions = deletes + changes + adds
    _check_result(current, actions)
    return actions


def plan_absent(current, specs):
    """Delete the endpoints named by address or id (those absent already are fine)."""
    actions = []
    for spec in specs:
        for endpoint in current:
            if (spec["address"] and endpoint["address"] == spec["address"]) or \
                    (not spec["address"] and spec["id"] == endpoint["id"]):
                if not any(action["endpoint"]["id"] == endpoint["id"] for action in actions):
                    actions.append({"action": "delete", "endpoint": endpoint})
    return actions


def plan_sync(current, declared, interfaces, usable, exclusive=False):
    """The actions of the systemd backend's unit (``_endpoint_unit``): a
    declared endpoint exists while its address is usable (``usable``: {address:
    interface names}, see ``_netlink.usable_addresses``) on its interface, or
    on any when it names none, and is deleted otherwise. A declared interface
    that is not there makes its endpoint unusable, not an error."""
    present, gone = [], []
    for raw in declared:
        here = not raw.get("dev") or raw["dev"] in interfaces
        spec = normalize_spec(raw if here else dict(raw, dev=None), interfaces)
        owners = usable.get(spec["address"], ())
        if here and owners and (not spec["dev"] or spec["dev"] in owners):
            present.append(spec)
        else:
            gone.append(spec)
    deletes = plan_absent(current, gone)
    deleted = set(action["endpoint"]["id"] for action in deletes)
    return deletes + plan_present([endpoint for endpoint in current if endpoint["id"] not in deleted], present,
                                  exclusive=exclusive)


def _check_result(current, actions):
    """Refuse a plan the kernel would reject halfway, before anything is sent."""
    deleted = set(action["endpoint"]["id"] for action in actions if action["action"] == "delete")
    kept = [endpoint for endpoint in current if endpoint["id"] not in deleted]
    added = [action["endpoint"] for action in actions if action["action"] == "add"]
    used_ids = dict((endpoint["id"], endpoint["address"]) for endpoint in kept)
    for endpoint in added:
        if endpoint["id"] is not None and endpoint["id"] in used_ids:
            raise MptcpError(
                "endpoint id %s is already used by endpoint %s; remove that one first or use exclusive"
                % (endpoint["id"], used_ids[endpoint["id"]]))
        if endpoint["id"] is not None:
            used_ids[endpoint["id"]] = endpoint["address"]
    total = len(kept) + len(added)
    if total > MAX_ENDPOINTS:
        raise MptcpError("this would make %d endpoints; the kernel allows at most %d per network namespace"
                         % (total, MAX_ENDPOINTS), endpoints=total)


def predict(current, actions):
    """The endpoint list after the actions, as check mode reports it
    (an id the kernel will choose is None)."""
    result = dict((endpoint["id"], copy.deepcopy(endpoint)) for endpoint in current)
    added = []
    for action in actions:
        endpoint = action["endpoint"]
        if action["action"] == "delete":
            result.pop(endpoint["id"], None)
        elif action["action"] == "set_flags":
            result[endpoint["id"]]["flags"] = list(endpoint["flags"])
        else:
            added.append(copy.deepcopy(endpoint))
    ordered = sorted(result.values(), key=lambda endpoint: endpoint["id"])
    return ordered + sorted(added, key=lambda endpoint: (endpoint["id"] is None, endpoint["id"] or 0))
