# -*- coding: utf-8 -*-
# Copyright: mptcp.multipath contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""NetworkManager through nmcli: one declarative table of commands turned
into argv lists (never a shell string), and what NetworkManager does with
the connection.mptcp-flags of the flag table (``_endpoint_flags``)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ipaddress
import json
import re

from ansible_collections.mptcp.multipath.plugins.module_utils._common import MptcpError, version_tuple
from ansible_collections.mptcp.multipath.plugins.module_utils._endpoint_flags import (
    LAMINAR_MIN_NM,
    NM_ENDPOINT_FLAGS,
    NM_FLAG_BITS,
    combination_problems,
    decode_flags,
    encode_flags,
    version_problems,
)
from ansible_collections.mptcp.multipath.plugins.module_utils._links import endpoint_candidate

MIN_VERSION = (1, 40)        # connection.mptcp-flags appeared in NetworkManager 1.40
FLAGS_FIELD = "connection.mptcp-flags"
# The names and bits come from the one flag table (_endpoint_flags.FLAGS).
LAMINAR_MIN_VERSION = LAMINAR_MIN_NM
NM_FLAGS = tuple(NM_FLAG_BITS)

# Every nmcli call the collection makes: name -> argv after "nmcli", with
# {placeholders} filled per call and "*name" replaced by a list of arguments.
# -t/-g give machine-readable output.
COMMANDS = {
    "version": ["--version"],
    "running": ["-t", "-f", "RUNNING", "general", "status"],
    "profiles": ["-t", "-f", "NAME,UUID,TYPE,DEVICE,ACTIVE", "connection", "show"],
    "profile_fields": ["-t", "-f", "{fields}", "connection", "show", "uuid", "{uuid}"],
    # several profiles in one run: connection.uuid first, so that each profile's lines start with it
    "profiles_fields": ["-t", "-f", "connection.uuid,{fields}", "connection", "show", "*uuid_arguments"],
    "set_mptcp_flags": ["connection", "modify", "uuid", "{uuid}", FLAGS_FIELD, "{flags}"],
    "reapply": ["device", "reapply", "{device}"],
    # the device's settings only, until it is activated again (the profile is not changed)
    "modify_device": ["device", "modify", "{device}", FLAGS_FIELD, "{flags}"],
    "device_path": ["-g", "GENERAL.DBUS-PATH", "device", "show", "{device}"],
    "device_paths": ["-t", "-f", "DEVICE,DBUS-PATH", "device", "status"],
    "up": ["connection", "up", "uuid", "{uuid}"],
}


def split_terse(line):
    """Split one line of `nmcli -t` output: fields are joined by ':' and
    literal ':' and '\\' inside a field are escaped with '\\'."""
    fields, current, escaped = [], [], False
    for char in line:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ":":
            fields.append("".join(current))
            current = []
        else:
            current.append(char)
    fields.append("".join(current))
    return fields


def parse_version(text):
    version = version_tuple(text)
    if len(version) < 2:
        raise MptcpError("cannot tell the NetworkManager version from %r" % (text,))
    return version


def encode_nm_flags(names):
    return encode_flags(names, NM_FLAG_BITS)


def decode_nm_flags(bits):
    return decode_flags(bits, NM_FLAG_BITS)


def parse_nm_flags(text):
    """nmcli prints the property as a number (0x28) or as names."""
    text = (text or "").strip()
    if re.match(r"^(0x[0-9a-fA-F]+|\d+)$", text):
        return int(text, 0)
    names = [name.strip() for name in text.replace(" ", ",").split(",") if name.strip()]
    unknown = [name for name in names if name not in NM_FLAG_BITS and name != "default"]
    if unknown:
        raise MptcpError("unknown mptcp-flags %s in nmcli output %r" % (", ".join(unknown), text))
    return encode_nm_flags(name for name in names if name != "default")


def effective_nm_flags(bits):
    """NetworkManager treats endpoint flags without enabled/disabled as
    enabled; compare values in this form so an implied bit is no change."""
    if bits and not bits & (NM_FLAG_BITS["disabled"] | NM_FLAG_BITS["enabled"]):
        bits |= NM_FLAG_BITS["enabled"]
    return bits


def nm_flag_problems(names, version):
    """Why NetworkManager (``version``) would refuse or not know ``names``:
    the table's rules (disabled alone, the pairs no backend takes) and the
    oldest NetworkManager of each flag."""
    return combination_problems(names, needs=False, alone=True) + version_problems(names, nm=version)


def nm_device_endpoints(bits, mptcp_enabled, default_route_families, addresses):
    """The endpoints NetworkManager makes for an active device whose profile
    has the flag ``bits``, as {address: [kernel flag names]} (the rules of
    NetworkManager's nm-device.c and nm-l3cfg.c).

    ``mptcp_enabled``: net.mptcp.enabled is 1; ``default_route_families``:
    the IP versions (4, 6) for which the device holds a default route;
    ``addresses``: the addresses NetworkManager configured on the device.
    Returns None for 0x0: NetworkManager's global default decides then,
    which is not known here."""
    if not bits:
        return None
    if bits & NM_FLAG_BITS["disabled"]:
        return {}
    if bits & NM_FLAG_BITS["signal"] and bits & NM_FLAG_BITS["fullmesh"]:
        bits &= ~NM_FLAG_BITS["fullmesh"]  # NetworkManager drops fullmesh beside signal
    if not mptcp_enabled and not bits & NM_FLAG_BITS["also-without-sysctl"]:
        return {}
    flags = [name for name in NM_ENDPOINT_FLAGS if bits & NM_FLAG_BITS[name]]
    wanted = {}
    for address in addresses:
        if not endpoint_candidate({"address": address}):
            continue
        ip = ipaddress.ip_address(u"%s" % address)
        if not bits & NM_FLAG_BITS["also-without-default-route"] and ip.version not in default_route_families:
            continue
        wanted[str(ip)] = flags
    return wanted


def nm_addresses(entries):
    """The addresses (``_links.parse_addresses`` entries of one device) that
    NetworkManager put there and would make endpoints of: it adds every
    address with noprefixroute; tentative, failed and temporary (privacy)
    IPv6 addresses never become endpoints."""
    return [entry["address"] for entry in entries if entry["noprefixroute"]
            and not (entry["family"] == "ipv6" and (entry["tentative"] or entry["temporary"]))]


def missing_nm_endpoints(wanted, endpoints, device):
    """The addresses of ``wanted`` (see nm_device_endpoints) that have no
    endpoint on ``device`` with exactly the wanted flags: a device reapply
    makes NetworkManager add them again."""
    missing = []
    for address, flags in sorted(wanted.items()):
        if not any(endpoint["address"] == address and not endpoint["port"] and endpoint["dev"] == device
                   and set(endpoint["flags"]) == set(flags) for endpoint in endpoints):
            missing.append(address)
    return missing


def parse_profiles_fields(text):
    """`nmcli -t -f connection.uuid,... connection show uuid A uuid B` ->
    {uuid: {field: value}}: each profile's lines start with its uuid."""
    result, current = {}, None
    for line in text.splitlines():
        if not line.strip():
            continue
        key, value = split_field(line)
        if key == "connection.uuid":
            current = result.setdefault(value, {})
        elif current is not None:
            current[key] = value
    return result


def split_field(line):
    """One `field:value` line of `nmcli -t -f <fields> connection show`."""
    key, _sep, value = line.partition(":")
    return key, value.replace("\\:", ":").replace("\\\\", "\\")


def applied_flags(text):
    """connection.mptcp-flags of a GetAppliedConnection reply (busctl
    --json=short); a setting at its default is left out, so 0."""
    try:
        settings = json.loads(text)["data"][0]
        return int(settings.get("connection", {}).get("mptcp-flags", {}).get("data", 0))
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        raise MptcpError("cannot read connection.mptcp-flags from NetworkManager's applied connection: %r"
                         % (text[:200],))


def choose_profile(profiles, name=None, uuid=None, interface=None, interface_names=None):
    """The one profile the user means, or an error that lists the candidates.
    ``interface_names`` maps a profile UUID to its connection.interface-name."""
    if uuid:
        matches = [profile for profile in profiles if profile["uuid"] == uuid]
        wanted = "uuid %s" % uuid
    elif name:
        matches = [profile for profile in profiles if profile["name"] == name]
        wanted = "name %r" % name
    else:
        matches = [profile for profile in profiles if profile["active"] and profile["device"] == interface]
        if not matches:
            matches = [profile for profile in profiles if (interface_names or {}).get(profile["uuid"]) == interface]
        wanted = "interface %r" % interface
    if len(matches) == 1:
        return matches[0]
    known = ", ".join("%s (%s)" % (profile["name"], profile["uuid"]) for profile in profiles) or "none"
    if not matches:
        raise MptcpError("no NetworkManager profile with %s; profiles: %s" % (wanted, known))
    raise MptcpError("several NetworkManager profiles match %s: %s; choose one by uuid"
                     % (wanted, ", ".join("%s (%s)" % (profile["name"], profile["uuid"]) for profile in matches)))


def at(where, message):
    """``message`` named by the option path it is about (``profiles[1].flags``);
    None: the single-profile form, whose messages name no option."""
    return "%s: %s" % (where, message) if where else message


def selector_key(entry):
    """Which of uuid, name or interface chooses the profile of ``entry`` (choose_profile's order)."""
    return "uuid" if entry.get("uuid") else "name" if entry.get("name") else "interface"


def choose_profiles(profiles, entries, interface_names=None):
    """[(where, entry, profile)] for [(path, entry)]: each entry's profile
    (choose_profile), every entry looked at before an error, which names
    each bad entry's path; two entries choosing one profile are an error too
    (their flags would fight)."""
    chosen, errors, chosen_by = [], [], {}
    for path, entry in entries:
        where = "%s.%s" % (path, selector_key(entry)) if path else None
        try:
            profile = choose_profile(profiles, entry.get("name"), entry.get("uuid"), entry.get("interface"),
                                     interface_names)
        except MptcpError as exc:
            errors.append(at(where, str(exc)))
            continue
        if profile["uuid"] in chosen_by:
            errors.append(at(where, "profile %s (%s) is chosen by %s too"
                             % (profile["name"], profile["uuid"], chosen_by[profile["uuid"]])))
        chosen_by.setdefault(profile["uuid"], path)
        chosen.append((where, entry, profile))
    if errors:
        raise MptcpError("; ".join(errors))
    return chosen


class Nmcli(object):
    """Runs the COMMANDS table through AnsibleModule.run_command."""

    def __init__(self, module, batch=False):
        """``batch``: read several profiles or devices in one nmcli run; without
        it each is read by a run of its own (the argv the single-profile form of
        mptcp_nm_profile has always run)."""
        self.module = module
        self.batch = batch
        self.binary = module.get_bin_path("nmcli")
        if not self.binary:
            raise MptcpError("nmcli was not found: NetworkManager is not installed on this host")

    def run(self, command, **values):
        argv = [self.binary]
        for part in COMMANDS[command]:
            if part.startswith("*"):
                argv.extend(values[part[1:]])
            else:
                argv.append(part.format(**values))
        # C locale: nmcli's messages and output are parsed, not shown
        rc, stdout, stderr = self.module.run_command(argv, environ_update={"LC_ALL": "C", "LANG": "C"})
        if rc != 0:
            raise MptcpError("%s failed (rc=%d): %s" % (" ".join(argv), rc, (stderr or stdout).strip()),
                             command=argv, rc=rc)
        return stdout

    def version(self):
        return parse_version(self.run("version"))

    def check_running(self):
        try:
            state = self.run("running").strip()
        except MptcpError as exc:
            raise MptcpError("NetworkManager is not running: %s" % exc)
        if state != "running":
            raise MptcpError("NetworkManager is not running (nmcli general status says %r)" % state)

    def profiles(self):
        result = []
        for line in self.run("profiles").splitlines():
            if not line.strip():
                continue
            name, uuid, kind, device, active = split_terse(line)
            result.append({"name": name, "uuid": uuid, "type": kind, "device": device or None,
                           "active": active == "yes"})
        return result

    def fields(self, uuids, names):
        """{uuid: {field: value}} of the profiles ``uuids``."""
        uuids = list(dict.fromkeys(uuids))
        if len(uuids) > 1 and self.batch:
            arguments = [part for uuid in uuids for part in ("uuid", uuid)]
            result = parse_profiles_fields(self.run("profiles_fields", fields=",".join(names), uuid_arguments=arguments))
            missing = [uuid for uuid in uuids if uuid not in result]
            if missing:
                raise MptcpError("nmcli printed no %s of the profiles %s" % (",".join(names), ", ".join(missing)))
            return result
        result = {}
        for uuid in uuids:
            output = self.run("profile_fields", uuid=uuid, fields=",".join(names))
            result[uuid] = dict(split_field(line) for line in output.splitlines() if line.strip())
        return result

    def mptcp_flags_of(self, uuids):
        """{uuid: the bits of its connection.mptcp-flags}."""
        return dict((uuid, parse_nm_flags(values.get(FLAGS_FIELD)))
                    for uuid, values in self.fields(uuids, [FLAGS_FIELD]).items())

    def mptcp_flags(self, uuid):
        """The bits of one profile's connection.mptcp-flags."""
        return self.mptcp_flags_of([uuid]).get(uuid, 0)

    def set_mptcp_flags(self, uuid, names):
        # "0x0" is NetworkManager's "default": an empty list means that
        self.run("set_mptcp_flags", uuid=uuid, flags=",".join(names) if names else "0x0")

    def reapply(self, device):
        self.run("reapply", device=device)

    def modify_device(self, device, names):
        self.run("modify_device", device=device, flags=",".join(names) if names else "0x0")

    def device_paths(self, devices):
        """{device: its D-Bus object path}."""
        if len(devices) > 1 and self.batch:
            listed = dict(split_terse(line)[:2] for line in self.run("device_paths").splitlines() if line.strip())
            return dict((device, listed.get(device)) for device in devices)
        return dict((device, self.run("device_path", device=device).strip()) for device in devices)

    def applied_mptcp_flags(self, devices):
        """{device: the connection.mptcp-flags bits it runs with} (its applied
        connection, which `nmcli device modify` changes and a reapply or
        activation resets to the profile's); None when that cannot be read
        (no busctl, or the device is not activated). nmcli shows only the
        profile's value, so this asks NetworkManager over D-Bus."""
        busctl = self.module.get_bin_path("busctl")
        if not busctl or not devices:
            return dict((device, None) for device in devices)
        result = {}
        for device, path in self.device_paths(devices).items():
            result[device] = None
            if not path:
                continue
            rc, stdout, _stderr = self.module.run_command(
                [busctl, "--json=short", "call", "org.freedesktop.NetworkManager", path,
                 "org.freedesktop.NetworkManager.Device", "GetAppliedConnection", "u", "0"],
                environ_update={"LC_ALL": "C", "LANG": "C"})
            if rc == 0:
                result[device] = applied_flags(stdout)
        return result

    def up(self, uuid):
        self.run("up", uuid=uuid)
