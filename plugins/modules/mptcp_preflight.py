#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mptcp.multipath contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: mptcp_preflight
short_description: Check an MPTCP configuration before it is applied
version_added: 0.1.0
description:
  - Validates limits and endpoints against this host (its interfaces, kernel and NetworkManager) and fails,
    naming the bad value, on anything that cannot work, so that a play can stop before its first change.
  - Warns about settings that are valid but silently do nothing. These are more subflow endpoints than the
    subflows limit, peers that announce addresses this host will not accept (C(add_addr_accepted)),
    endpoints of mixed address families, and NetworkManager interfaces without a default route and without
    C(also-without-default-route).
  - Resolves O(backend=auto) to V(networkmanager) when NetworkManager runs on the host, else V(systemd) when
    systemd runs, else V(runtime) (also inside O(namespace)). NetworkManager enabled at boot but not running is
    refused with V(auto), since the V(systemd) backend would fight it once it runs again.
    Fails when O(backend=networkmanager) is asked for and NetworkManager does not run or is older than 1.40
    (no C(connection.mptcp-flags)), since no profile could then be changed, and when O(backend=systemd) is
    asked for on a host that does not run systemd.
  - Reports whether a usable pyroute2 and iproute2 are there (RV(requirements)), and fails when pyroute2 is
    installed but too old for MPTCP (installing the package again would not help).
  - Detects the other managers of endpoints on the host (RV(managers)) and fails on a combination that would
    fight the chosen backend, saying which manager to switch off and how. A running mptcpd (C(mptcp.service))
    beside any backend is refused. NetworkManager, which makes a V(subflow) endpoint for the
    interface with the default route whenever MPTCP is enabled and the profile's flags are left at their
    default, fights the V(runtime) and V(systemd) backends on the links they own (all of them with O(exclusive)).
    RV(nm_hands_off) lists the profiles that must get C(connection.mptcp-flags disabled) for that, and
    O(nm_hands_off=false) makes it a refusal instead. Kernel endpoints nobody declared are no conflict when the
    backend removes them anyway (O(exclusive)); when they would stay, they are a warning with the command that
    removes them.
  - The R(mptcp.multipath.mptcp,ansible_collections.mptcp.multipath.mptcp_role) role runs it first. It changes
    nothing and needs no pyroute2.
author:
  - mptcp.multipath developers (@mptcp-multipath)
extends_documentation_fragment:
  - mptcp.multipath.namespace
  - mptcp.multipath.attributes.read_only
options:
  limits:
    description:
      - The limits the configuration will set, each 0 to 8.
        Limits left out are taken from the running kernel for the warnings.
    type: dict
    default: {}
    suboptions:
      subflows:
        description: Additional subflows per connection, 0 to 8.
        type: int
      add_addr_accepted:
        description: Addresses announced by the peer that a connection accepts, 0 to 8.
        type: int
  endpoints:
    description:
      - The endpoints the configuration will make, as the R(mptcp.multipath.mptcp,ansible_collections.mptcp.multipath.mptcp_role) role takes them.
      - Runtime endpoints need O(endpoints[].address); NetworkManager ones need O(endpoints[].interface) or
        O(endpoints[].profile) (not both), and an address given to them must be valid too.
      - No address, id, interface or profile may be listed twice; runtime endpoints are at most 8.
    type: list
    elements: dict
    default: []
    suboptions:
      address:
        description: IPv4 or IPv6 address (no zone index such as C(%eth0)).
        type: str
      interface:
        description: Interface of the endpoint; it must exist. With V(networkmanager), its profile gets the flags.
        type: str
      profile:
        description: NetworkManager profile name, instead of O(endpoints[].interface); it must exist.
        type: str
      id:
        description: Endpoint id, 1 to 255 (runtime only).
        type: int
      port:
        description: Port announced by a V(signal) endpoint, 1 to 65535 (runtime only).
        type: int
      flags:
        description:
          - Endpoint flags. V(also-without-default-route) and V(also-without-sysctl) are NetworkManager's own.
          - V(signal) and V(fullmesh) cannot be combined; V(fullmesh) needs V(subflow); a port needs V(signal).
          - Left out, O(default_flags) applies.
        type: list
        elements: str
        choices: [signal, subflow, backup, fullmesh, laminar, also-without-default-route, also-without-sysctl]
  backend:
    description:
      - How endpoints will be made. V(runtime) with M(mptcp.multipath.mptcp_endpoint),
        V(networkmanager) with M(mptcp.multipath.mptcp_nm_profile), V(systemd) by a systemd unit that keeps
        them while their addresses exist (the role's own), V(auto) chooses.
      - V(systemd) endpoints are checked as V(runtime) ones.
    type: str
    choices: [auto, networkmanager, runtime, systemd]
    default: auto
  default_flags:
    description:
      - Flags for the endpoints that have no C(flags) key.
    type: list
    elements: str
    default: []
    choices: [signal, subflow, backup, fullmesh, laminar, also-without-default-route, also-without-sysctl]
  state:
    description:
      - V(disabled) checks only that the endpoints can be found (to revert them) and gives no advice.
    type: str
    choices: [enabled, disabled]
    default: enabled
  peers:
    description:
      - What the peers of this host declare (the other hosts of the play), to warn when they announce more
        addresses (V(signal) endpoints) than C(add_addr_accepted) lets this host use.
      - Each peer's endpoints are counted, not checked (the peer's own run checks them).
    type: list
    elements: dict
    default: []
    suboptions:
      endpoints:
        description:
          - The peer's endpoints, as it gives them in O(endpoints).
        type: list
        elements: dict
        default: []
      default_flags:
        description:
          - The peer's O(default_flags).
        type: list
        elements: str
        default: []
  sysctls:
    description:
      - Other C(net.mptcp.*) sysctls the configuration will set, by short or full name. Each must exist on this
        kernel and be writable, and with O(state=enabled) its value must be one the kernel takes.
    type: dict
    default: {}
  sysctl_file:
    description:
      - The sysctl.d file the configuration will write. It must be an absolute path ending in C(.conf) in a
        directory that exists. Not checked inside O(namespace).
    type: path
    default: /etc/sysctl.d/90-enable-MPTCP.conf
  exclusive:
    description:
      - Whether the backend keeps exactly O(endpoints) and removes every other kernel endpoint (the role's
        C(mptcp_endpoints_exclusive)). With V(true) the V(runtime) backend owns every link, so NetworkManager
        must keep its hands off all of them; with V(false) only the links that hold a declared endpoint.
    type: bool
    default: true
  nm_hands_off:
    description:
      - With a backend other than V(networkmanager) on a host where NetworkManager makes endpoints on the links
        that backend owns, V(true) lists those profiles in RV(nm_hands_off) (the role then sets their
        C(connection.mptcp-flags) to V(disabled)); V(false) refuses the combination instead.
    type: bool
    default: true
  disabled_interfaces:
    description:
      - Interfaces whose NetworkManager profile will get the V(disabled) flag; each must exist.
        Only checked with the V(networkmanager) backend.
    type: list
    elements: str
    default: []
  limits_unit:
    description:
      - Name of the systemd unit file that will set the limits at boot; it must be a C(.service) name without
        a directory. Not checked when left out.
    type: str
  endpoints_unit:
    description:
      - Name of the systemd unit file of the V(systemd) backend, checked like O(limits_unit).
    type: str
  variable_names:
    description:
      - How the messages name each option, for example the variables of the role that passes them
        (the R(mptcp.multipath.mptcp,ansible_collections.mptcp.multipath.mptcp_role) role passes C(mptcp_limits) for O(limits) and so on).
        An option left out is named as itself.
    type: dict
    default: {}
    suboptions:
      limits:
        description: Name of O(limits).
        type: str
      endpoints:
        description: Name of O(endpoints).
        type: str
      default_flags:
        description: Name of O(default_flags).
        type: str
      backend:
        description: Name of O(backend).
        type: str
      namespace:
        description: Name of O(namespace).
        type: str
      sysctls:
        description: Name of O(sysctls).
        type: str
      sysctl_file:
        description: Name of O(sysctl_file).
        type: str
      disabled_interfaces:
        description: Name of O(disabled_interfaces).
        type: str
      limits_unit:
        description: Name of O(limits_unit).
        type: str
      endpoints_unit:
        description: Name of O(endpoints_unit).
        type: str
      exclusive:
        description: Name of O(exclusive).
        type: str
      nm_hands_off:
        description: Name of O(nm_hands_off).
        type: str
      links:
        description: Name of O(links).
        type: str
      link_count:
        description: Name of O(link_count).
        type: str
      excluded_interfaces:
        description: Name of O(excluded_interfaces).
        type: str
  links:
    description:
      - The links that carry MPTCP, for a plan made from them (the
        R(mptcp.multipath.mptcp,ansible_collections.mptcp.multipath.mptcp_role) role's C(mptcp_links)). Each
        interface must exist; each address given must be on it and able to be an endpoint (not loopback,
        link-local, unique-local or temporary). RV(links) returns them with the host's addresses.
      - Read only with O(state=enabled).
    type: list
    elements: dict
    default: []
    suboptions:
      interface:
        description: The link's interface.
        type: str
        required: true
      address:
        description: One address of the link to use; left out (with O(links[].addresses)), every address of the
          interface that can be an endpoint.
        type: str
      addresses:
        description: Addresses of the link to use, beside O(links[].address).
        type: list
        elements: str
        default: []
      backup:
        description: The link is a backup link.
        type: bool
        default: false
  link_count:
    description: Use only the first this many of O(links), 1 to their number (for example from an AWX survey).
    type: int
  excluded_interfaces:
    description: Interfaces that must carry no MPTCP (management links); each must exist, and none may be in O(links).
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: Check a client's permanent configuration before applying it
  mptcp.multipath.mptcp_preflight:
    limits:
      subflows: 3
    endpoints:
      - interface: enp4s0f1
        flags: [signal, subflow, also-without-default-route]
    backend: networkmanager
  register: mptcp_plan
"""

RETURN = r"""
backend:
  description: The backend to use (V(auto) resolved).
  returned: always
  type: str
  sample: networkmanager
advice:
  description: The warnings, also shown as Ansible warnings.
  returned: always
  type: list
  elements: str
  sample: ["3 subflow endpoints but a subflows limit of 2: each connection opens at most 2 additional subflows"]
limits:
  description:
    - The limits the warnings were computed with (given ones, else the running kernel's; only the given
      ones when pyroute2 is not there yet).
  returned: always
  type: dict
  sample: {subflows: 2, add_addr_accepted: 0}
limits_to_set:
  description: The given limits, checked and as integers, without the ones left out.
  returned: always
  type: dict
  sample: {subflows: 3}
endpoints:
  description:
    - The endpoints with O(default_flags) applied, in the form the backend's module takes them
      (M(mptcp.multipath.mptcp_endpoint) keys for V(runtime), C(interface)/C(profile) and C(flags) for
      V(networkmanager)).
  returned: always
  type: list
  elements: dict
  sample: [{interface: enp4s0f1, flags: [signal, subflow, also-without-default-route]}]
networkmanager_running:
  description: Whether NetworkManager runs on the host.
  returned: always
  type: bool
  sample: true
managers:
  description: The managers of endpoints found on the host besides the chosen backend.
  returned: always
  type: dict
  contains:
    networkmanager:
      description:
        - The interfaces on which NetworkManager makes endpoints of its own once MPTCP is enabled (active
          profile not V(disabled), and a default route or C(also-without-default-route)). Empty when it does
          not run, is older than 1.40, in a namespace, or with O(state=disabled).
      type: list
      elements: str
    mptcpd:
      description: Whether an mptcpd process runs in this network namespace.
      type: bool
    undeclared_endpoints:
      description:
        - Kernel endpoints in neither O(endpoints) nor made by NetworkManager, and not the kernel's own
          (C(implicit)), as C(id), C(address), C(port), C(dev), C(flags).
      type: list
      elements: dict
  sample: {networkmanager: [link1], mptcpd: false, undeclared_endpoints: []}
nm_hands_off:
  description:
    - The NetworkManager profiles whose C(connection.mptcp-flags) must become V(disabled) so that NetworkManager
      leaves the links of the chosen backend alone, each with C(interface), C(profile) (name) and C(uuid).
      Empty with the V(networkmanager) backend, O(nm_hands_off=false), or nothing to do.
  returned: always
  type: list
  elements: dict
  sample: [{interface: link1, profile: link1, uuid: 5b5c8a0e-2d0c-4a47-9c50-4c1f4b0f6f5a}]
python:
  description: The Python that ran the checks, whose pyroute2 RV(requirements) reports on (the role runs the
    V(systemd) backend's program with it).
  returned: always
  type: str
  sample: /usr/bin/python3
links:
  description:
    - O(links) with this host's addresses (what the role's plan takes), each with C(interface), C(addresses)
      (the ones given, else every address of the interface that can be an endpoint, in the kernel's order) and
      C(backup). Empty without O(links) or with O(state=disabled).
  returned: always
  type: list
  elements: dict
  sample: [{interface: link1, addresses: [192.0.2.1, "2001:db8:1::1"], backup: false}]
laminar:
  description:
    - Whether endpoints can have the C(laminar) flag here, that is the kernel is 6.18 or newer and the backend can set
      it (NetworkManager from 1.56 on).
  returned: always
  type: bool
  sample: true
requirements:
  description:
    - What the other modules need on this host and whether it is there, so that a play can install only
      what is missing, and in check mode tell what it would install instead of failing.
  returned: always
  type: dict
  contains:
    pyroute2:
      description: Whether a pyroute2 with MPTCP support (0.7 or newer) can be imported by the Python that runs the modules.
      type: bool
    iproute2:
      description: Whether the C(ip) command exists.
      type: bool
  sample: {pyroute2: true, iproute2: true}
"""

import os
import sys

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mptcp.multipath.plugins.module_utils._common import MptcpError, enter_namespace, run_module
from ansible_collections.mptcp.multipath.plugins.module_utils._links import addresses as link_addresses
from ansible_collections.mptcp.multipath.plugins.module_utils._links import default_route_interfaces
from ansible_collections.mptcp.multipath.plugins.module_utils._links import endpoints as ip_endpoints
from ansible_collections.mptcp.multipath.plugins.module_utils._netlink import (
    HAS_PYROUTE2,
    PYROUTE2_UNSUPPORTED,
    PYROUTE2_USABLE,
    MptcpNetlink,
    interface_indexes,
)
from ansible_collections.mptcp.multipath.plugins.module_utils._endpoint_flags import (
    ENDPOINT_FLAGS,
    LAMINAR_MIN_KERNEL,
    LAMINAR_MIN_NM,
    kernel_version,
)
from ansible_collections.mptcp.multipath.plugins.module_utils._limits import LIMIT_NAMES, check_limits
from ansible_collections.mptcp.multipath.plugins.module_utils._nmcli import MIN_VERSION as NM_MIN_VERSION
from ansible_collections.mptcp.multipath.plugins.module_utils._nmcli import Nmcli
from ansible_collections.mptcp.multipath.plugins.module_utils._preflight import (
    advice,
    check_default_flags,
    check_endpoints,
    check_interfaces,
    check_service_name,
    check_sysctl_file,
    MPTCPD_COMMAND,
    manager_conflicts,
    nm_adds_endpoints,
    normalize_endpoints,
    read_links,
    resolve_backend,
    signal_count,
)
from ansible_collections.mptcp.multipath.plugins.module_utils._sysctl import available_keys, check_sysctls

# How messages name each option unless variable_names says otherwise.
OPTION_NAMES = ("limits", "endpoints", "default_flags", "backend", "namespace", "sysctls", "sysctl_file",
                "disabled_interfaces", "limits_unit", "endpoints_unit", "exclusive", "nm_hands_off", "links",
                "link_count", "excluded_interfaces")


class PreflightModule(object):

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.nmcli = None  # only where NetworkManager runs

    def networkmanager_running(self):
        try:
            nmcli = Nmcli(self.module)
            nmcli.check_running()
        except MptcpError:
            return False  # not installed, or installed and not running
        self.nmcli = nmcli
        return True

    def networkmanager_enabled(self):
        """NetworkManager's unit starts at boot (not disabled, masked or absent)."""
        systemctl = self.module.get_bin_path("systemctl")
        if not systemctl:
            return False
        rc, out, dummy = self.module.run_command([systemctl, "is-enabled", "NetworkManager.service"])
        return rc == 0 and out.strip() == "enabled"

    @staticmethod
    def kernel_limits():
        """The running kernel's limits, for the advice; without pyroute2
        (check mode on a fresh host) only the given limits count."""
        if not PYROUTE2_USABLE:
            return {}
        with MptcpNetlink() as kernel:
            return kernel.limits()

    def run(self):
        names = dict((option, (self.params["variable_names"] or {}).get(option) or option) for option in OPTION_NAMES)
        enabled = self.params["state"] == "enabled"
        wanted_limits = check_limits(self.params["limits"], names["limits"])
        namespace = self.params["namespace"]
        if not namespace:
            check_sysctl_file(self.params["sysctl_file"], names["sysctl_file"])
        # a bad name is refused even where no unit is written (a namespace)
        for unit in ("limits_unit", "endpoints_unit"):
            if self.params[unit] is not None:
                check_service_name(self.params[unit], names[unit])
        try:
            enter_namespace(namespace)
        except MptcpError as exc:
            raise MptcpError("%s: %s" % (names["namespace"], exc))
        if self.params["sysctls"]:
            # only then: a kernel without MPTCP has no net.mptcp keys to list
            check_sysctls(self.params["sysctls"], available_keys(), names["sysctls"], check_values=enabled)
        nm_running = False if namespace else self.networkmanager_running()
        ip = self.module.get_bin_path("ip")
        # what decides where NetworkManager makes endpoints (advice, managers); read once
        default_routes = (default_route_interfaces(self.module.run_command, ip)
                          if nm_running and ip and enabled else set())
        systemd_running = os.path.isdir("/run/systemd/system")
        nm_enabled = (not namespace and not nm_running and systemd_running and self.params["backend"] == "auto"
                      and self.networkmanager_enabled())
        backend = resolve_backend(self.params["backend"], namespace, nm_running, names["backend"], systemd_running,
                                  nm_enabled)
        # what needs it: the networkmanager backend, and finding NetworkManager's own endpoints
        nm_version = self.nmcli.version() if nm_running and (enabled or backend == "networkmanager") else None
        kernel = kernel_version()
        default_flags = check_default_flags(self.params["default_flags"], backend, kernel, names["default_flags"])
        endpoints = [dict(endpoint, flags=default_flags if endpoint.get("flags") is None
                          else endpoint["flags"]) for endpoint in self.params["endpoints"]]
        interfaces = interface_indexes()
        profiles = None
        if backend == "networkmanager" and nm_running:
            profiles = [profile["name"] for profile in self.nmcli.profiles()]
            check_interfaces(self.params["disabled_interfaces"], interfaces, names["disabled_interfaces"])
        endpoints = check_endpoints(endpoints, backend, interfaces, kernel, names["endpoints"], profiles)
        links = []
        if self.params["links"] and enabled:
            if not ip:
                raise MptcpError("%s needs the ip command (iproute2) to read the links' addresses" % names["links"])
            count = self.params["link_count"]
            if count is not None and not 1 <= count <= len(self.params["links"]):
                raise MptcpError("%s must be a whole number from 1 to %d (the links in %s), not %s"
                                 % (names["link_count"], len(self.params["links"]), names["links"], count))
            links = read_links(self.params["links"][:count], link_addresses(self.module.run_command, ip), interfaces,
                               self.params["excluded_interfaces"], names["links"], names["excluded_interfaces"])
        limits = dict(self.kernel_limits(), **wanted_limits)
        # Fatal here, not at the first task that needs it: by then the sysctl
        # file, the limits and their unit would already have been changed.
        if backend == "networkmanager" and not nm_running:
            raise MptcpError(
                "%s is networkmanager but NetworkManager is not running on this host: "
                "start it (systemctl start NetworkManager), or choose %s=runtime" % (names["backend"], names["backend"]))
        if backend == "networkmanager" and nm_version[:2] < NM_MIN_VERSION:
            raise MptcpError(
                "%s is networkmanager but NetworkManager %s on this host has no connection.mptcp-flags "
                "(it needs %d.%d or newer): choose %s=runtime"
                % ((names["backend"], ".".join(map(str, nm_version))) + NM_MIN_VERSION + (names["backend"],)))
        if backend == "systemd" and not systemd_running:
            raise MptcpError("%s is systemd but this host does not run systemd: choose %s=runtime"
                             % (names["backend"], names["backend"]))
        if HAS_PYROUTE2 and PYROUTE2_UNSUPPORTED:
            # installed but too old: installing "the package" again would not help
            raise MptcpError(PYROUTE2_UNSUPPORTED)
        normalized = normalize_endpoints(endpoints, backend)
        # what the plan may declare on the links: the conflicts are judged on it
        declared = normalized or [dict(interface=link["interface"]) if backend == "networkmanager"
                                  else dict(address=address, dev=link["interface"])
                                  for link in links for address in link["addresses"]]
        nm_devices = []
        if enabled and nm_version and nm_version[:2] >= NM_MIN_VERSION:  # no MPTCP handling before 1.40
            nm_devices = self.nm_devices(default_routes)
        managers = self.managers(backend, ip, nm_devices, declared, names)
        if managers["errors"]:
            # before the first change: each names the manager to switch off and how
            raise MptcpError("; ".join(managers["errors"]))
        warnings = []
        if enabled:
            peer_signal_count = sum(signal_count(peer["endpoints"], peer["default_flags"])
                                    for peer in self.params["peers"])
            warnings = advice(endpoints, backend, limits, peer_signal_count, default_routes)
        warnings += managers["warnings"]
        for warning in warnings:
            self.module.warn(warning)
        return {"changed": False, "backend": backend, "advice": warnings, "limits": limits,
                "limits_to_set": wanted_limits,
                "endpoints": normalized,
                "networkmanager_running": nm_running,
                "managers": {"networkmanager": managers["nm_interfaces"], "mptcpd": managers["mptcpd"],
                             "undeclared_endpoints": managers["undeclared"]},
                "nm_hands_off": managers["hands_off"],
                "python": sys.executable,
                "links": links,
                # the kernel can, and the backend can set it
                "laminar": kernel >= LAMINAR_MIN_KERNEL and (
                    backend != "networkmanager" or tuple(nm_version[:2]) >= LAMINAR_MIN_NM),
                "requirements": {"pyroute2": PYROUTE2_USABLE, "iproute2": bool(ip)}}

    def nm_devices(self, default_routes):
        """NetworkManager's active devices with their profile's MPTCP flags and
        whether they hold a default route (what decides if it makes endpoints)."""
        devices = []
        for profile in self.nmcli.profiles():
            if not profile["active"] or not profile["device"] or profile["device"] == "lo":
                continue
            flags = self.nmcli.mptcp_flags(profile["uuid"])
            devices.append({"interface": profile["device"], "profile": profile["name"], "uuid": profile["uuid"],
                            "flags": flags, "default_route": profile["device"] in default_routes})
        return devices

    @staticmethod
    def mptcpd_running():
        """An mptcpd process in this network namespace (the one entered, if any);
        read from /proc, so it works with or without systemd."""
        try:
            own = os.stat("/proc/self/ns/net").st_ino
        except OSError:
            own = None
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open("/proc/%s/comm" % pid) as comm:
                    if comm.read().strip() != MPTCPD_COMMAND:
                        continue
                if own is None or os.stat("/proc/%s/ns/net" % pid).st_ino == own:
                    return True
            except (IOError, OSError):
                continue  # gone meanwhile, or not ours to read
        return False

    def managers(self, backend, ip, nm_devices, declared, names):
        """The other endpoint managers, and what fights ``backend`` (see manager_conflicts)."""
        kernel_endpoints, owner = [], {}
        if ip:
            kernel_endpoints = ip_endpoints(self.module.run_command, ip)
            owner = dict((entry["address"], entry["interface"]) for entry in link_addresses(self.module.run_command, ip))
        mptcpd = self.mptcpd_running()
        result = manager_conflicts(backend, self.params["state"], names, nm_devices, mptcpd, kernel_endpoints,
                                   declared, owner, self.params["exclusive"], self.params["nm_hands_off"])
        result["mptcpd"] = mptcpd
        result["nm_interfaces"] = sorted(device["interface"] for device in nm_devices if nm_adds_endpoints(device))
        return result


def main():
    module = AnsibleModule(
        argument_spec=dict(
            limits=dict(type="dict", default={},
                        options=dict((name, dict(type="int")) for name in LIMIT_NAMES)),
            endpoints=dict(type="list", elements="dict", default=[], options=dict(
                address=dict(type="str"),
                interface=dict(type="str"),
                profile=dict(type="str"),
                id=dict(type="int"),
                port=dict(type="int"),
                flags=dict(type="list", elements="str", choices=list(ENDPOINT_FLAGS)),
            )),
            backend=dict(type="str", choices=["auto", "networkmanager", "runtime", "systemd"], default="auto"),
            default_flags=dict(type="list", elements="str", default=[], choices=list(ENDPOINT_FLAGS)),
            state=dict(type="str", choices=["enabled", "disabled"], default="enabled"),
            peers=dict(type="list", elements="dict", default=[], options=dict(
                endpoints=dict(type="list", elements="dict", default=[]),
                default_flags=dict(type="list", elements="str", default=[]),
            )),
            sysctls=dict(type="dict", default={}),
            sysctl_file=dict(type="path", default="/etc/sysctl.d/90-enable-MPTCP.conf"),
            disabled_interfaces=dict(type="list", elements="str", default=[]),
            exclusive=dict(type="bool", default=True),
            nm_hands_off=dict(type="bool", default=True),
            limits_unit=dict(type="str"),
            endpoints_unit=dict(type="str"),
            variable_names=dict(type="dict", default={},
                                options=dict((name, dict(type="str")) for name in OPTION_NAMES)),
            namespace=dict(type="str"),
            links=dict(type="list", elements="dict", default=[], options=dict(
                interface=dict(type="str", required=True),
                address=dict(type="str"),
                addresses=dict(type="list", elements="str", default=[]),
                backup=dict(type="bool", default=False),
            )),
            link_count=dict(type="int"),
            excluded_interfaces=dict(type="list", elements="str", default=[]),
        ),
        supports_check_mode=True,
    )
    run_module(module, PreflightModule(module).run)


if __name__ == "__main__":
    main()
