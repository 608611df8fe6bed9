# -*- coding: utf-8 -*-
# Copyright: mptcp.multipath contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure logic of mptcp_preflight: refuse a configuration that cannot work
and name what would silently not work, before anything is changed."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ipaddress
import os

from ansible_collections.mptcp.multipath.plugins.module_utils._common import MptcpError
from ansible_collections.mptcp.multipath.plugins.module_utils._endpoint_flags import (
    KERNEL_BACKENDS,
    NM_FLAG_BITS,
    NM_ONLY_FLAGS,
    USER_FLAGS,
    backend_problems,
    flag_problems,
)
from ansible_collections.mptcp.multipath.plugins.module_utils._nmcli import MIN_VERSION as NM_MIN_VERSION
from ansible_collections.mptcp.multipath.plugins.module_utils._endpoints import (
    MAX_ENDPOINTS,
    check_unique,
    describe_endpoint,
    ip_command,
    normalize_spec,
)


# mptcp_preflight is the mptcp role's own check: its messages name the
# role's variables, not its options. One table: option -> role variable
# (mptcp_preflight's DOCUMENTATION says the same; a unit test holds both).
ROLE_VARIABLES = {
    "state": "mptcp_state",
    "limits": "mptcp_limits",
    "endpoints": "mptcp_endpoints",
    "default_flags": "mptcp_endpoint_default_flags",
    "links": "mptcp_links",
    "link_count": "mptcp_link_count",
    "excluded_interfaces": "mptcp_excluded_interfaces",
    "backend": "mptcp_endpoints_backend",
    "namespace": "mptcp_namespace",
    "sysctls": "mptcp_sysctls",
    "sysctl_file": "mptcp_sysctl_file",
    "disabled_interfaces": "mptcp_nm_disabled_interfaces",
    "limits_unit": "mptcp_limits_unit",
    "endpoints_unit": "mptcp_endpoints_unit",
    "exclusive": "mptcp_endpoints_exclusive",
    "nm_hands_off": "mptcp_nm_hands_off",
    "paths": "mptcp_paths",
    "nm_ignore_carrier": "mptcp_nm_ignore_carrier",
}
PATHS = ("permanent", "temporary", "unmanaged")


def _flag_list(flags):
    """Flags as a list; a string is a comma-separated list, as Ansible reads it."""
    if flags is None:
        return None
    if isinstance(flags, str):
        return [flag.strip() for flag in flags.split(",") if flag.strip()]
    return list(flags)


def signal_count(endpoints, default_flags):
    """How many of ``endpoints`` announce their address (``signal``, their
    own flags or else ``default_flags``): a peer's count, so it never fails
    on that peer's mistakes (its own run reports them)."""
    count = 0
    for endpoint in endpoints or []:
        if not isinstance(endpoint, dict):
            continue
        flags = _flag_list(endpoint.get("flags"))
        if "signal" in (_flag_list(default_flags) or [] if flags is None else flags):
            count += 1
    return count


def _refuse_nm_only(flags, backend, where):
    """NetworkManager's own flags mean nothing to a kernel endpoint (the flag table says who takes what)."""
    problems = backend_problems(flags, backend)
    if problems:
        raise MptcpError("%s: %s" % (where, "; ".join(problems)))


def check_default_flags(default_flags, backend, kernel=None, name=ROLE_VARIABLES["default_flags"]):
    """Flags that endpoints without their own get (the argument spec has
    checked the names), checked on their own so that a message can name
    where a bad flag came from."""
    _refuse_nm_only(default_flags, backend, name)
    problems = flag_problems([flag for flag in default_flags if flag in USER_FLAGS], kernel=kernel)
    if problems:
        raise MptcpError("%s: %s" % (name, "; ".join(problems)))
    return list(default_flags)


def check_endpoints(endpoints, backend, interfaces, kernel, name=ROLE_VARIABLES["endpoints"], profiles=None):
    """Check the role endpoints for either backend with the one endpoint
    normalizer (``_endpoints.normalize_spec``) and return them, still role
    endpoints, with their addresses normalized. ``interfaces`` maps (or lists) the interface names of the
    namespace; ``profiles`` lists NetworkManager's profile names (None: not known)."""
    networkmanager = backend == "networkmanager"
    if not networkmanager and len(endpoints) > MAX_ENDPOINTS:
        raise MptcpError("%s lists %d endpoints; the kernel allows at most %d"
                         % (name, len(endpoints), MAX_ENDPOINTS))
    if not isinstance(interfaces, dict):
        interfaces = dict((interface, 0) for interface in interfaces)
    checked, specs, targets = [], [], set()
    for index, endpoint in enumerate(endpoints):
        where = "%s[%d]" % (name, index)
        flags = endpoint.get("flags") or []
        _refuse_nm_only(flags, backend, where + ".flags")
        if not networkmanager:
            if endpoint.get("address") is None:
                raise MptcpError("%s: %s endpoints need an address" % (where, backend))
        raw = {"address": endpoint.get("address"), "interface": endpoint.get("interface"), "flags": flags}
        if not networkmanager:
            # id and port only exist for kernel endpoints; NetworkManager ignores them
            raw.update(id=endpoint.get("id"), port=endpoint.get("port"))
        spec = normalize_spec(raw, interfaces, kernel=kernel, need_address=not networkmanager, where=where,
                              extra_flags=NM_ONLY_FLAGS if networkmanager else ())
        if networkmanager:
            targets.add(_check_nm_target(endpoint, where, profiles, targets))
        specs.append(spec)
        item = dict(endpoint)
        if spec["address"]:
            item["address"] = spec["address"]
        checked.append(item)
    if not networkmanager:
        check_unique(specs, name)
    return checked


def _check_nm_target(endpoint, where, profiles, seen):
    """The profile (by interface or name) a networkmanager endpoint changes."""
    interface, profile = endpoint.get("interface"), endpoint.get("profile")
    if profile is not None and not str(profile).strip():
        raise MptcpError("%s.profile is empty: name a NetworkManager profile or leave the key out" % where)
    if interface and profile:
        raise MptcpError("%s names interface %s and profile %s: give one of them" % (where, interface, profile))
    if not (interface or profile):
        raise MptcpError("%s: networkmanager endpoints need an interface or a profile" % where)
    if profile and profiles is not None and profile not in profiles:
        raise MptcpError("%s.profile %r: NetworkManager has no such profile; profiles: %s"
                         % (where, profile, ", ".join(sorted(profiles)) or "none"))
    target = ("interface", interface) if interface else ("profile", profile)
    if target in seen:
        raise MptcpError("%s: %s %s is listed more than once" % (where.rsplit("[", 1)[0], target[0], target[1]))
    return target


def check_interfaces(names, interfaces, name):
    """Interface names that must exist here (e.g. the ones to keep MPTCP off)."""
    for index, interface in enumerate(names or []):
        if not str(interface).strip():
            raise MptcpError("%s[%d] is empty: name an interface" % (name, index))
        if interface not in interfaces:
            raise MptcpError("%s[%d]: interface %r does not exist here; interfaces: %s"
                             % (name, index, interface, ", ".join(sorted(interfaces))))


def check_sysctl_file(path, name=ROLE_VARIABLES["sysctl_file"], isdir=os.path.isdir):
    """A sysctl.d file that systemd-sysctl reads at boot, in a directory that exists."""
    if not path or not os.path.isabs(path):
        raise MptcpError("%s %r must be an absolute path" % (name, path))
    if not path.endswith(".conf"):
        raise MptcpError("%s %r must end in .conf: systemd-sysctl reads no other files at boot" % (name, path))
    if not isdir(os.path.dirname(path)):
        raise MptcpError("%s %r: directory %s does not exist" % (name, path, os.path.dirname(path)))


def _family(address):
    """4 or 6, None for what is not an address (advice never fails)."""
    try:
        return ipaddress.ip_address(str(address).strip()).version
    except ValueError:
        return None


def advice(endpoints, backend, limits, peer_signal_count, default_route_interfaces):
    """Warnings about settings that are valid but will not do what they seem to."""
    warnings = []
    subflow_endpoints = [endpoint for endpoint in endpoints if "subflow" in (endpoint.get("flags") or [])]
    subflows = limits.get("subflows")
    if subflows is not None and len(subflow_endpoints) > subflows:
        warnings.append("%d subflow endpoints but a subflows limit of %d: each connection opens at most %d "
                        "additional subflows" % (len(subflow_endpoints), subflows, subflows))
    accepted = limits.get("add_addr_accepted")
    # One announced address may be the one the connection already uses, so
    # only a limit below the others is sure to leave announcements unused.
    if accepted is not None and peer_signal_count and (accepted == 0 or accepted < peer_signal_count - 1):
        warnings.append("the peers announce %d address(es) (signal endpoints) but add_addr_accepted is %d: "
                        "this host will not open subflows to %s" % (
                            peer_signal_count, accepted, "them" if accepted == 0 else "all of them"))
    families = set(_family(endpoint["address"]) for endpoint in endpoints if endpoint.get("address")) - set([None])
    if len(families) > 1:
        warnings.append("endpoints mix IPv4 and IPv6: a connection only uses endpoints of its own family")
    if backend == "networkmanager":
        for endpoint in endpoints:
            interface = endpoint.get("interface")
            flags = endpoint.get("flags") or []
            if interface and interface not in default_route_interfaces and "also-without-default-route" not in flags:
                warnings.append("interface %s has no default route: NetworkManager makes no endpoints for it "
                                "unless its flags include also-without-default-route" % interface)
    return warnings


def module_endpoints(endpoints, backend):
    """The role endpoints (default flags applied) in the form the backend's
    module takes: module endpoints for mptcp_endpoint (address, dev, id,
    port, flags), or role endpoints cut to what mptcp_nm_profile takes
    (interface or profile, flags)."""
    result = []
    for endpoint in endpoints:
        flags = list(endpoint.get("flags") or [])
        if backend in KERNEL_BACKENDS:
            item = {"address": endpoint.get("address"), "dev": endpoint.get("interface"),
                    "id": endpoint.get("id"), "port": endpoint.get("port"), "flags": flags}
        else:
            item = {"interface": endpoint.get("interface"), "profile": endpoint.get("profile"), "flags": flags}
        result.append(dict((key, value) for key, value in item.items() if value is not None))
    return result


# -- one manager per host: which one owns the endpoints, and who would fight it --
# mptcpd's systemd unit (Debian, Fedora, upstream) and its process name.
MPTCPD_UNIT = "mptcp.service"
MPTCPD_COMMAND = "mptcpd"


def paths_backend(paths, backend, names=None):
    """The backend a choice of ``paths`` (mptcp_paths) asks for: temporary
    paths are netlink's alone (a unit or a profile would outlive the next
    reboot), so another backend named with them is refused. Unmanaged paths
    keep the named one, only to check the endpoints by its rules."""
    names = names or ROLE_VARIABLES
    if paths != "temporary":
        return backend
    if paths == "temporary" and backend not in ("auto", "runtime"):
        raise MptcpError("%s is temporary (netlink only, gone at the next reboot), but %s is %s, which keeps endpoints "
                         "across reboots: leave %s auto, or make the paths permanent"
                         % (names["paths"], names["backend"], backend, names["backend"]))
    return "runtime"


def resolve_backend(backend, namespace, nm_running, name=ROLE_VARIABLES["backend"], systemd_running=True, nm_enabled=False):
    """auto: NetworkManager where it runs, else the systemd unit where systemd
    runs, else runtime; inside a namespace only runtime endpoints exist (no
    unit or profile there). NetworkManager enabled but stopped is refused:
    the systemd backend would fight it once it starts again."""
    if backend == "auto":
        if namespace:
            return "runtime"
        if nm_running:
            return "networkmanager"
        if nm_enabled:
            raise MptcpError("%s is auto, and NetworkManager is enabled on this host but not running: start it "
                             "(systemctl start NetworkManager), or choose %s=systemd and disable it"
                             % (name, name))
        return "systemd" if systemd_running else "runtime"
    if backend in ("networkmanager", "systemd") and namespace:
        raise MptcpError("%s is %s, but endpoints in a network namespace (%s) can only be runtime ones"
                         % (name, backend, namespace))
    return backend


def check_backend_available(backend, nm_running, nm_version, systemd_running, name=ROLE_VARIABLES["backend"]):
    """The resolved ``backend`` can work on this host: NetworkManager runs and
    is 1.40 or newer (``nm_version``; connection.mptcp-flags), systemd runs.
    Fatal here, not at the first task that needs it: by then the sysctl
    file, the limits and their unit would already have been changed."""
    if backend == "networkmanager" and not nm_running:
        raise MptcpError(
            "%s is networkmanager but NetworkManager is not running on this host: "
            "start it (systemctl start NetworkManager), or choose %s=runtime" % (name, name))
    if backend == "networkmanager" and nm_version[:2] < NM_MIN_VERSION:
        raise MptcpError(
            "%s is networkmanager but NetworkManager %s on this host has no connection.mptcp-flags "
            "(it needs %d.%d or newer): choose %s=runtime"
            % ((name, ".".join(map(str, nm_version))) + NM_MIN_VERSION + (name,)))
    if backend == "systemd" and not systemd_running:
        raise MptcpError("%s is systemd but this host does not run systemd: choose %s=runtime" % (name, name))


def check_ignore_carrier(ignore_carrier, state, paths, backend, namespace, links, requested_backend=None, names=None):
    """NetworkManager's ignore-carrier for the planned links (the role's
    mptcp_nm_ignore_carrier) is a drop-in in /etc/NetworkManager/conf.d and a
    sysctl.d file: it needs the networkmanager backend, permanent paths, the
    host's own namespace and planned links. Refused otherwise, before the
    first change. The disabled state removes it whatever it says."""
    names = names or ROLE_VARIABLES
    if not ignore_carrier or state != "enabled":
        return
    option = names["nm_ignore_carrier"]
    fix = "set %s=false" % option
    if paths != "permanent":
        raise MptcpError("%s is true, but %s is %s: it keeps the planned links' NetworkManager profiles up without "
                         "carrier with files kept across reboots, for permanent paths only; make the paths permanent, "
                         "or %s" % (option, names["paths"], paths, fix))
    if namespace:
        raise MptcpError("%s is true, but %s is %s: NetworkManager's configuration and the sysctl.d file are the "
                         "host's own; %s" % (option, names["namespace"], namespace, fix))
    if backend != "networkmanager":
        how = " (%s: NetworkManager does not run here)" % requested_backend if requested_backend == "auto" else ""
        raise MptcpError("%s is true, but %s is %s%s: ignore-carrier is NetworkManager's, for the networkmanager "
                         "backend only; choose %s=networkmanager, or %s"
                         % (option, names["backend"], backend, how, names["backend"], fix))
    if not links:
        raise MptcpError("%s is true, but %s is empty: it applies to the planned links only; list them in %s, or %s"
                         % (option, names["links"], names["links"], fix))


def read_nm_devices(nmcli, default_routes):
    """NetworkManager's active devices (``nmcli``: an ``_nmcli.Nmcli``) with
    their profile's MPTCP flags and whether they hold a default route (in the
    set ``default_routes``): what decides if it makes endpoints."""
    devices = []
    for profile in nmcli.profiles():
        if not profile["active"] or not profile["device"] or profile["device"] == "lo":
            continue
        flags = nmcli.mptcp_flags(profile["uuid"])
        devices.append({"interface": profile["device"], "profile": profile["name"], "uuid": profile["uuid"],
                        "flags": flags, "default_route": profile["device"] in default_routes})
    return devices


def mptcpd_running(proc="/proc"):
    """An mptcpd process in this network namespace (the one entered, if any);
    read from /proc, so it works with or without systemd."""
    try:
        own = os.stat(os.path.join(proc, "self/ns/net")).st_ino
    except OSError:
        own = None
    for pid in os.listdir(proc):
        if not pid.isdigit():
            continue
        try:
            with open(os.path.join(proc, pid, "comm")) as comm:
                if comm.read().strip() != MPTCPD_COMMAND:
                    continue
            if own is None or os.stat(os.path.join(proc, pid, "ns/net")).st_ino == own:
                return True
        except (IOError, OSError):
            continue  # gone meanwhile, or not ours to read
    return False


def declared_endpoints(normalized, links, backend):
    """What the configuration may declare on the links, for judging the
    conflicts: the endpoints given (``module_endpoints``' form), else
    every address of the links (``read_links``' form) the plan may use."""
    return normalized or [dict(interface=link["interface"]) if backend == "networkmanager"
                          else dict(address=address, dev=link["interface"])
                          for link in links for address in link["addresses"]]


def nm_adds_endpoints(device):
    """Whether NetworkManager makes endpoints for an active ``device``
    ({interface, profile, uuid, flags (bits), default_route}) once
    net.mptcp.enabled is 1: any flags but ``disabled``, the default (0x0)
    included, which NetworkManager 1.42+ treats as "enabled,subflow"; only
    on a device with a default route, unless also-without-default-route."""
    flags = device.get("flags") or 0
    if flags & NM_FLAG_BITS["disabled"]:
        return False
    return bool(device.get("default_route") or flags & NM_FLAG_BITS["also-without-default-route"])


def _endpoint_interface(endpoint, address_owner):
    return endpoint.get("dev") or address_owner.get(endpoint.get("address"))


def manager_conflicts(backend, state, nm_devices, mptcpd, kernel_endpoints, declared,
                      address_owner, exclusive=True, hands_off=True):
    """Which other endpoint managers would fight ``backend`` on this host.

    ``nm_devices``: NetworkManager's active devices (empty when it does not
    run, is older than 1.40 or the role acts in a namespace); ``declared``:
    the endpoints in the backend's module form (runtime: address, dev);
    ``address_owner``: {address: interface} of the host's addresses;
    ``exclusive``: the backend keeps exactly the declared set (removes the
    rest). Messages name the role's variables (ROLE_VARIABLES).

    Returns {errors, warnings, hands_off (the devices whose profile must get
    connection.mptcp-flags disabled), undeclared (kernel endpoints nobody
    declared)}. A combination that would fight is an error; endpoints that
    the backend removes anyway are no conflict; endpoints that stay in place
    but are nobody's are a warning."""
    backend_name, hands_off_name = ROLE_VARIABLES["backend"], ROLE_VARIABLES["nm_hands_off"]
    where = "%s=%s" % (backend_name, backend)
    result = {"errors": [], "warnings": [], "hands_off": [], "undeclared": []}
    stop_mptcpd = "stop it and keep it off (systemctl disable --now %s)" % MPTCPD_UNIT
    if state != "enabled":
        if mptcpd:
            result["warnings"].append("mptcpd (%s) is running: it may add endpoints again after they are "
                                      "removed here; %s" % (MPTCPD_UNIT, stop_mptcpd))
        return result
    if mptcpd:
        result["errors"].append(
            "%s, but mptcpd (%s) is running and manages the endpoints too (it adds one for every new address): "
            "%s%s" % (where, MPTCPD_UNIT, stop_mptcpd,
                      "" if backend == "networkmanager" else ", or set %s=networkmanager with mptcpd off" % backend_name))
    nm_busy = [device for device in nm_devices if nm_adds_endpoints(device)]
    declared_addresses = set(endpoint.get("address") for endpoint in declared if endpoint.get("address"))
    if backend == "networkmanager":
        declared_targets = set()
        for endpoint in declared:
            declared_targets.add(endpoint.get("interface"))
            declared_targets.add(endpoint.get("profile"))
        # NetworkManager's endpoints: any address of a device whose profile makes endpoints, now
        # or once the role has set the declared profiles' flags
        nm_interfaces = set(device["interface"] for device in nm_devices
                            if nm_adds_endpoints(device) or device["interface"] in declared_targets
                            or device.get("profile") in declared_targets)
    else:
        owned = set(device["interface"] for device in nm_busy)
        if not exclusive:
            # only the links that hold a declared endpoint are the backend's
            owned &= set(_endpoint_interface(endpoint, address_owner) for endpoint in declared)
        fighting = [device for device in nm_busy if device["interface"] in owned]
        if fighting and hands_off:
            result["hands_off"] = [dict((key, device.get(key)) for key in ("interface", "profile", "uuid"))
                                   for device in fighting]
        elif fighting:
            result["errors"].append(
                "%s and %s=false, but NetworkManager handles MPTCP on %s: it adds endpoints there again at its "
                "next link event, which this backend then removes (every run changes something); switch it off "
                "on those links (%s), or set %s=true to let the role do that, or use %s=networkmanager"
                % (where, hands_off_name,
                   ", ".join("%s (profile %s)" % (device["interface"], device.get("profile")) for device in fighting),
                   "; ".join("nmcli connection modify %s connection.mptcp-flags disabled && nmcli device reapply %s"
                             % (device.get("uuid") or device.get("profile"), device["interface"])
                             for device in fighting),
                   hands_off_name, backend_name))
        # NetworkManager's own endpoints: gone with the hands-off, or on links this backend leaves to it
        nm_interfaces = set(device["interface"] for device in nm_busy)
    for endpoint in kernel_endpoints:
        if "implicit" in (endpoint.get("flags") or []) or endpoint.get("address") in declared_addresses:
            continue
        if _endpoint_interface(endpoint, address_owner) in nm_interfaces:
            continue
        result["undeclared"].append(endpoint)
    stay = result["undeclared"] if backend == "networkmanager" or not exclusive else []
    if stay:
        result["warnings"].append(
            "endpoint(s) %s are in the kernel but not declared in %s%s, and stay in place (%s): remove them "
            "if nothing needs them (%s)" % (
                ", ".join(describe_endpoint(endpoint, with_id=True) for endpoint in stay), ROLE_VARIABLES["endpoints"],
                " nor made by NetworkManager" if backend == "networkmanager" else "",
                "the networkmanager backend never removes kernel endpoints" if backend == "networkmanager"
                else "%s is false" % ROLE_VARIABLES["exclusive"],
                "; ".join(ip_command({"action": "delete", "endpoint": endpoint}) for endpoint in stay)))
    return result


def endpoint_owners(backend, state, nm_devices, mptcpd, kernel_endpoints, declared, address_owner, exclusive=True,
                    hands_off=True):
    """manager_conflicts' result with what was found: ``mptcpd`` (it runs)
    and ``nm_interfaces`` (where NetworkManager makes endpoints of its own)."""
    result = manager_conflicts(backend, state, nm_devices, mptcpd, kernel_endpoints, declared, address_owner,
                               exclusive, hands_off)
    result["mptcpd"] = mptcpd
    result["nm_interfaces"] = sorted(device["interface"] for device in nm_devices if nm_adds_endpoints(device))
    return result


# -- the role's intent: links ----------------------------------------------------
def read_links(links, host_addresses, interfaces, excluded=(), name=ROLE_VARIABLES["links"],
               excluded_name=ROLE_VARIABLES["excluded_interfaces"]):
    """The links of the intent with this host's real addresses, as the planner
    (``_plan.plan``) takes them: [{interface, addresses, backup}].

    ``links``: [{interface, address, addresses, backup}] (an address given is
    checked, none given means every address of the interface that can be an
    endpoint); ``host_addresses``: ``_links.parse_addresses`` entries;
    ``interfaces``: the interface names here. Errors name the variable path."""
    excluded = list(excluded or [])
    check_interfaces(excluded, interfaces, excluded_name)
    result, seen = [], set()
    for index, link in enumerate(links or []):
        where = "%s[%d]" % (name, index)
        interface = link.get("interface")
        if not interface or not str(interface).strip():
            raise MptcpError("%s.interface is missing: name the link's interface" % where)
        if interface not in interfaces:
            raise MptcpError("%s.interface: interface %r does not exist here; interfaces: %s"
                             % (where, interface, ", ".join(sorted(interfaces))))
        if interface in seen:
            raise MptcpError("%s.interface: %s is listed more than once" % (where, interface))
        seen.add(interface)
        if interface in excluded:
            raise MptcpError("%s.interface: %s is also in %s: a link either carries MPTCP or is kept out"
                             % (where, interface, excluded_name))
        mine = [entry for entry in host_addresses if entry["interface"] == interface]
        given = ([link["address"]] if link.get("address") else []) + list(link.get("addresses") or [])
        chosen = []
        for position, value in enumerate(given):
            key = "address" if position == 0 and link.get("address") else "addresses[%d]" % (
                position - (1 if link.get("address") else 0))
            try:
                address = str(ipaddress.ip_address(u"%s" % str(value).strip()))
            except ValueError:
                raise MptcpError("%s.%s: %r is not an IP address" % (where, key, value))
            entry = [candidate for candidate in mine if candidate["address"] == address]
            if not entry:
                raise MptcpError("%s.%s: %s is not an address of %s here; it has: %s"
                                 % (where, key, address, interface,
                                    ", ".join(candidate["address"] for candidate in mine) or "none"))
            if not entry[0]["endpoint_candidate"]:
                raise MptcpError("%s.%s: %s cannot be an MPTCP endpoint (loopback, link-local, unique-local or "
                                 "temporary)" % (where, key, address))
            if address not in chosen:
                chosen.append(address)
        if not given:
            chosen = [entry["address"] for entry in mine if entry["endpoint_candidate"]]
        if not chosen:
            raise MptcpError("%s.interface: %s has no address that can be an MPTCP endpoint (global IPv4 or IPv6, "
                             "not link-local or unique-local); it has: %s"
                             % (where, interface, ", ".join(entry["address"] for entry in mine) or "none"))
        # the networks the addresses sit on: the planner tells a peer on the link from one behind a router
        networks = [str(ipaddress.ip_interface("%s/%s" % (entry["address"], entry["prefix"])).network)
                    for entry in mine if entry["address"] in chosen and entry.get("prefix") is not None]
        result.append({"interface": interface, "addresses": chosen, "networks": networks,
                       "backup": bool(link.get("backup"))})
    return result
