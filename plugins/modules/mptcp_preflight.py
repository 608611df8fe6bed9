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
    nothing and needs no pyroute2 (it reads the limits with the standard library).
  - It is that role's own check, so its messages name the role's variables, not its options, each with the path
    to the bad value (for example C(mptcp_links[1].interface), C(mptcp_endpoints[0].address),
    C(mptcp_limits.subflows)). Each option and its variable - O(state) is C(mptcp_state), O(limits) is
    C(mptcp_limits), O(endpoints) is C(mptcp_endpoints), O(default_flags) is C(mptcp_endpoint_default_flags),
    O(links) is C(mptcp_links), O(link_count) is C(mptcp_link_count), O(excluded_interfaces) is
    C(mptcp_excluded_interfaces), O(backend) is C(mptcp_endpoints_backend), O(namespace) is C(mptcp_namespace),
    O(sysctls) is C(mptcp_sysctls), O(sysctl_file) is C(mptcp_sysctl_file), O(disabled_interfaces) is
    C(mptcp_nm_disabled_interfaces) (the role adds its C(mptcp_excluded_interfaces) to it, which are checked and
    named first), O(limits_unit) is C(mptcp_limits_unit), O(endpoints_unit) is C(mptcp_endpoints_unit),
    O(exclusive) is C(mptcp_endpoints_exclusive), O(nm_hands_off) is C(mptcp_nm_hands_off), O(nm_ignore_carrier) is
    C(mptcp_nm_ignore_carrier) and O(paths) is C(mptcp_paths).
author:
  - mptcp.multipath developers (@mptcp-multipath)
extends_documentation_fragment:
  - mptcp.multipath.namespace
  - mptcp.multipath._endpoint.ROLE
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
  backend:
    description:
      - How endpoints will be made. V(runtime) with M(mptcp.multipath.mptcp_endpoint),
        V(networkmanager) with M(mptcp.multipath.mptcp_nm_profile), V(systemd) by a systemd unit that keeps
        them while their addresses exist (the role's own), V(auto) chooses.
      - V(systemd) endpoints are checked as V(runtime) ones.
    type: str
    choices: [auto, networkmanager, runtime, systemd]
    default: auto
  paths:
    description:
      - What the enabled state does with the paths (endpoints and limits), as the role's C(mptcp_paths) says.
      - V(permanent) keeps them across reboots through O(backend).
      - V(temporary) sets them through netlink only, so it takes the V(runtime) backend (O(backend) V(auto) or
        V(runtime); another is refused), and RV(nm_hands_off) names the devices to keep NetworkManager off for
        the run's lifetime.
      - V(unmanaged) checks the input but owns nothing, so neither another manager nor the backend's absence
        stops the run. RV(endpoints), RV(limits_to_set), RV(links) and RV(nm_hands_off) are empty.
    type: str
    choices: [permanent, temporary, unmanaged]
    default: permanent
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
  nm_ignore_carrier:
    description:
      - Whether the configuration keeps the NetworkManager profiles of the planned links (O(links)) up when they lose
        carrier (NetworkManager's C(ignore-carrier), with the kernel told to skip those links' routes while they have
        no carrier; the role's C(mptcp_nm_ignore_carrier)).
      - With O(state=enabled) it needs the V(networkmanager) backend, O(paths=permanent), no O(namespace) and
        O(links); anything else is refused.
    type: bool
    default: false
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
  files:
    description:
      - Other files and directories the configuration may remove (the role's endpoints program and its set, the
        files of O(nm_ignore_carrier)); RV(files_present) names those that exist.
    type: list
    elements: path
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
      (the ones given, else every address of the interface that can be an endpoint, in the kernel's order),
      C(networks) (the networks of those addresses, as CIDR), C(backup),
      C(rp_filter) and C(arp_ignore) (the interface's IPv4 reverse-path filter and ARP reply mode as the kernel
      applies them, the larger of the C(net.ipv4.conf.all) value and the interface's own; null where it cannot be
      read). Empty without O(links) or with O(state=disabled).
  returned: always
  type: list
  elements: dict
  sample: [{interface: link1, addresses: [192.0.2.1, "2001:db8:1::1"], networks: [192.0.2.0/24, "2001:db8:1::/64"],
            backup: false, rp_filter: 2, arp_ignore: 0}]
laminar:
  description:
    - Whether endpoints can have the C(laminar) flag here, that is the kernel is 6.18 or newer and the backend can set
      it (NetworkManager from 1.56 on).
  returned: always
  type: bool
  sample: true
owns_paths:
  description:
    - Whether this run makes or reverts the paths (endpoints, limits, their units and profiles); false only for
      O(paths=unmanaged) with O(state=enabled) (seed 34.2, enabling only).
  returned: always
  type: bool
  sample: true
persists_paths:
  description:
    - Whether the paths are kept across reboots (units, profiles and their removal); true with O(paths=permanent), or
      O(state=disabled), outside O(namespace).
  returned: always
  type: bool
  sample: true
kernel_limits:
  description: The running kernel's limits (empty without a usable pyroute2), to compare the limits to set with.
  returned: always
  type: dict
  sample: {subflows: 2, add_addr_accepted: 0}
sysctls_settled:
  description:
    - Whether the net.mptcp sysctls are already as the role sets them, at runtime and in O(sysctl_file) (outside
      O(namespace)); C(net.mptcp.enabled) 1 and O(sysctls) with O(state=enabled), C(net.mptcp.enabled) 0 and
      O(sysctls) out of the file with O(state=disabled). The role then skips its sysctl tasks.
  returned: always
  type: bool
  sample: true
units:
  description:
    - O(limits_unit) and O(endpoints_unit) in C(/etc/systemd/system), by name, each with C(exists), C(checksum)
      (SHA-1), C(mode), C(owner), and systemd's C(enabled) (UnitFileState) and C(active) (ActiveState); null
      where it does not apply. The role skips its unit tasks for a unit that is already right.
  returned: always
  type: dict
  sample:
    set_mptcp_limit.service: {exists: true, checksum: 575a3d1f20be4733676d3b6f031f98c00f1ab58e, mode: "0644",
                              owner: root, enabled: enabled, active: active}
files_present:
  description: The O(files) that exist.
  returned: always
  type: list
  elements: str
  sample: [/etc/mptcp-endpoints.conf]
requirements:
  description:
    - What the other modules need on this host and whether it is there, so that a play can install only
      what is missing, and in check mode tell what it would install instead of failing.
  returned: always
  type: dict
  contains:
    pyroute2:
      description: Whether a pyroute2 with MPTCP support (0.7 or newer) is installed for the Python that runs the modules
        (found without importing it).
      type: bool
    iproute2:
      description: Whether the C(ip) command exists.
      type: bool
  sample: {pyroute2: true, iproute2: true}
"""

import os
import sys

from ansible_collections.mptcp.multipath.plugins.module_utils._argspec import namespace_argspec, role_endpoint_options
from ansible_collections.mptcp.multipath.plugins.module_utils._common import (
    MptcpError,
    enter_namespace,
    interface_indexes,
    run_module,
)
from ansible_collections.mptcp.multipath.plugins.module_utils._endpoint_flags import (
    ENDPOINT_FLAGS,
    LAMINAR_MIN_KERNEL,
    LAMINAR_MIN_NM,
    kernel_version,
)
from ansible_collections.mptcp.multipath.plugins.module_utils._limits import LIMIT_NAMES, check_limits
from ansible_collections.mptcp.multipath.plugins.module_utils._links import addresses as link_addresses
from ansible_collections.mptcp.multipath.plugins.module_utils._links import default_route_interfaces
from ansible_collections.mptcp.multipath.plugins.module_utils._links import endpoints as ip_endpoints
from ansible_collections.mptcp.multipath.plugins.module_utils._pm import PathManager
from ansible_collections.mptcp.multipath.plugins.module_utils._pyroute2 import probe as pyroute2_probe
from ansible_collections.mptcp.multipath.plugins.module_utils._nmcli import MIN_VERSION as NM_MIN_VERSION
from ansible_collections.mptcp.multipath.plugins.module_utils._nmcli import Nmcli
from ansible_collections.mptcp.multipath.plugins.module_utils._preflight import (
    PATHS,
    ROLE_VARIABLES as NAMES,
    advice,
    check_backend_available,
    check_default_flags,
    check_ignore_carrier,
    check_endpoints,
    check_interfaces,
    check_sysctl_file,
    declared_endpoints,
    endpoint_owners,
    mptcpd_running,
    module_endpoints,
    paths_backend,
    read_links,
    read_nm_devices,
    resolve_backend,
    signal_count,
)
from ansible_collections.mptcp.multipath.plugins.module_utils._sysctl import available_keys, check_sysctls, settled
from ansible_collections.mptcp.multipath.plugins.module_utils._units import (
    SYSTEMD_RUN_DIR,
    SYSTEMD_UNIT_DIR,
    check_service_name,
    read_units,
)

# pyroute2 is looked for, not imported: this module runs on every run of the role and needs none of it.
# The probe is (installed, why the installed one cannot be used), not unpacked in one assignment:
# ansible-doc reads this file's top-level assignments and warns on a tuple.
PYROUTE2_PROBE = pyroute2_probe()
HAS_PYROUTE2 = PYROUTE2_PROBE[0]
PYROUTE2_UNSUPPORTED = PYROUTE2_PROBE[1]
PYROUTE2_USABLE = HAS_PYROUTE2 and not PYROUTE2_UNSUPPORTED


class PreflightModule(object):
    """Reads the host (NetworkManager, systemd, the kernel, the links) and
    hands what it read to _preflight's checks; their messages name the
    role's variables (NAMES)."""

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
        """The running kernel's limits (read without pyroute2, which a fresh host may lack)."""
        with PathManager() as kernel:
            return kernel.limits()

    def check_names(self):
        """What needs no look at the host: the limits, the sysctl file, the unit names."""
        limits = check_limits(self.params["limits"], NAMES["limits"])
        if not self.params["namespace"]:
            check_sysctl_file(self.params["sysctl_file"], NAMES["sysctl_file"])
        # a bad name is refused even where no unit is written (a namespace)
        for unit in ("limits_unit", "endpoints_unit"):
            if self.params[unit] is not None:
                check_service_name(self.params[unit], NAMES[unit])
        return limits

    def read_links(self, ip, interfaces):
        count, links = self.params["link_count"], self.params["links"]
        if not ip:
            raise MptcpError("%s needs the ip command (iproute2) to read the links' addresses" % NAMES["links"])
        if count is not None and not 1 <= count <= len(links):
            raise MptcpError("%s must be a whole number from 1 to %d (the links in %s), not %s"
                             % (NAMES["link_count"], len(links), NAMES["links"], count))
        result = read_links(links[:count], link_addresses(self.module.run_command, ip), interfaces,
                            self.params["excluded_interfaces"])
        for link in result:
            # the plan advises where strict filtering would drop a link's subflows (rule 8), and where
            # two links on one network answer ARP for each other (rule 9)
            for key in ("rp_filter", "arp_ignore"):
                link[key] = self.ipv4_conf(link["interface"], key)
        return result

    @staticmethod
    def ipv4_conf(interface, key):
        """An IPv4 setting (rp_filter, arp_ignore) as the kernel applies it on
        ``interface``: the larger of ``all`` and the interface's own; None if unreadable."""
        values = []
        for name in ("all", interface):
            try:
                with open("/proc/sys/net/ipv4/conf/%s/%s" % (name, key)) as handle:
                    values.append(int(handle.read().strip()))
            except (IOError, OSError, ValueError):
                return None
        return max(values)

    def sysctls_settled(self, enabled, sysctls):
        """Whether the role's sysctl tasks would change nothing: net.mptcp.enabled
        and (enabled) the other sysctls set, or (disabled) removed from the file."""
        wanted = [("enabled", "1" if enabled else "0")] + [
            (key, value if enabled else None) for key, value in sorted(sysctls.items())]
        file_text = False  # no file is kept for a namespace
        if not self.params["namespace"]:
            try:
                with open(self.params["sysctl_file"]) as handle:
                    file_text = handle.read()
            except (IOError, OSError, UnicodeDecodeError):
                file_text = None
                if os.path.exists(self.params["sysctl_file"]):
                    return False  # unreadable: mptcp_sysctl says why
        try:
            return settled(wanted, file_text)
        except (IOError, OSError):
            return False  # a key this kernel lacks: mptcp_sysctl names it

    def units(self):
        """The role's unit files (RV(units)): file facts, and systemd's view of those that exist."""
        names = [self.params[unit] for unit in ("limits_unit", "endpoints_unit") if self.params[unit]]
        return read_units(self.module, names, SYSTEMD_UNIT_DIR, SYSTEMD_RUN_DIR)

    def owners(self, backend, ip, nm_devices, declared):
        """The other endpoint managers, and what fights ``backend`` (see _preflight.manager_conflicts)."""
        kernel_endpoints, owner = [], {}
        if ip:
            kernel_endpoints = ip_endpoints(self.module.run_command, ip)
            owner = dict((entry["address"], entry["interface"]) for entry in link_addresses(self.module.run_command, ip))
        return endpoint_owners(backend, self.params["state"], nm_devices, mptcpd_running(), kernel_endpoints, declared,
                               owner, self.params["exclusive"], self.params["nm_hands_off"])

    def run(self):
        enabled = self.params["state"] == "enabled"
        namespace = self.params["namespace"]
        wanted_limits = self.check_names()
        try:
            enter_namespace(namespace)
        except MptcpError as exc:
            raise MptcpError("%s: %s" % (NAMES["namespace"], exc))
        sysctls = {}
        if self.params["sysctls"]:
            # only then: a kernel without MPTCP has no net.mptcp keys to list
            sysctls = check_sysctls(self.params["sysctls"], available_keys(), NAMES["sysctls"], check_values=enabled)
        paths = self.params["paths"] if enabled else "permanent"
        unmanaged = paths == "unmanaged"
        requested_backend = paths_backend(paths, self.params["backend"])
        nm_running = False if namespace else self.networkmanager_running()
        ip = self.module.get_bin_path("ip")
        # what decides where NetworkManager makes endpoints (advice, managers); read once
        default_routes = (default_route_interfaces(self.module.run_command, ip)
                          if nm_running and ip and enabled else set())
        systemd_running = os.path.isdir(SYSTEMD_RUN_DIR)
        nm_enabled = (not namespace and not nm_running and systemd_running and requested_backend == "auto"
                      and not unmanaged and self.networkmanager_enabled())
        backend = resolve_backend(requested_backend, namespace, nm_running, systemd_running=systemd_running,
                                  nm_enabled=nm_enabled)
        check_ignore_carrier(self.params["nm_ignore_carrier"], self.params["state"], paths, backend, namespace,
                             self.params["links"], requested_backend)
        # what needs it: the networkmanager backend, and finding NetworkManager's own endpoints
        nm_version = self.nmcli.version() if nm_running and (enabled or backend == "networkmanager") else None
        kernel = kernel_version()
        default_flags = check_default_flags(self.params["default_flags"], backend, kernel)
        endpoints = [dict(endpoint, flags=default_flags if endpoint.get("flags") is None
                          else endpoint["flags"]) for endpoint in self.params["endpoints"]]
        interfaces = interface_indexes()
        profiles = None
        if backend == "networkmanager" and nm_running:
            profiles = [profile["name"] for profile in self.nmcli.profiles()]
            # the role adds its excluded interfaces to the disabled ones: each is named by its own variable
            check_interfaces(self.params["excluded_interfaces"], interfaces, NAMES["excluded_interfaces"])
            check_interfaces(self.params["disabled_interfaces"], interfaces, NAMES["disabled_interfaces"])
        endpoints = check_endpoints(endpoints, backend, interfaces, kernel, profiles=profiles)
        links = self.read_links(ip, interfaces) if self.params["links"] and enabled and not unmanaged else []
        kernel_limits = self.kernel_limits()
        limits = dict(kernel_limits, **wanted_limits)
        if not unmanaged:
            check_backend_available(backend, nm_running, nm_version, systemd_running)
        if HAS_PYROUTE2 and PYROUTE2_UNSUPPORTED:
            # installed but too old: installing "the package" again would not help
            raise MptcpError(PYROUTE2_UNSUPPORTED)
        normalized = module_endpoints(endpoints, backend)
        if unmanaged:
            # checked, but this run makes none of it
            normalized, wanted_limits = [], {}
        nm_devices = []
        if enabled and not unmanaged and nm_version and nm_version[:2] >= NM_MIN_VERSION:  # no MPTCP handling before 1.40
            nm_devices = read_nm_devices(self.nmcli, default_routes)
        owners = (self.owners(backend, ip, nm_devices, declared_endpoints(normalized, links, backend)) if not unmanaged
                  else {"errors": [], "warnings": [], "nm_interfaces": [], "mptcpd": False, "undeclared": [],
                        "hands_off": []})
        if owners["errors"]:
            # before the first change: each names the manager to switch off and how
            raise MptcpError("; ".join(owners["errors"]))
        warnings = []
        if enabled and not unmanaged:
            peer_signal_count = sum(signal_count(peer["endpoints"], peer["default_flags"])
                                    for peer in self.params["peers"])
            warnings = advice(endpoints, backend, limits, peer_signal_count, default_routes)
        warnings += owners["warnings"]
        for warning in warnings:
            self.module.warn(warning)
        return {"changed": False, "backend": backend, "advice": warnings, "limits": limits,
                "limits_to_set": wanted_limits,
                # what this run owns of the paths (endpoints, limits, their units and profiles): nothing
                # when they are unmanaged (seed 34.2); the disabled state reverts them whatever paths says
                "owns_paths": not unmanaged,
                # units, profiles and their removal: not for temporary paths, nor inside a namespace
                "persists_paths": paths == "permanent" and not namespace,
                # what the role's tasks would compare, read here once so that a task whose state
                # is already right is skipped instead of run
                "kernel_limits": kernel_limits,
                "sysctls_settled": self.sysctls_settled(enabled, sysctls),
                "units": self.units(),
                "files_present": [path for path in self.params["files"] if os.path.lexists(path)],
                "endpoints": normalized,
                "networkmanager_running": nm_running,
                "managers": {"networkmanager": owners["nm_interfaces"], "mptcpd": owners["mptcpd"],
                             "undeclared_endpoints": owners["undeclared"]},
                "nm_hands_off": owners["hands_off"],
                "python": sys.executable,
                "links": links,
                # the kernel can, and the backend can set it
                "laminar": kernel >= LAMINAR_MIN_KERNEL and (
                    backend != "networkmanager" or tuple(nm_version[:2]) >= LAMINAR_MIN_NM),
                "requirements": {"pyroute2": PYROUTE2_USABLE, "iproute2": bool(ip)}}


def main():
    module = namespace_argspec(
        dict(
            paths=dict(type="str", choices=list(PATHS), default="permanent"),
            limits=dict(type="dict", default={},
                        options=dict((name, dict(type="int")) for name in LIMIT_NAMES)),
            endpoints=dict(type="list", elements="dict", default=[], options=role_endpoint_options()),
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
            nm_ignore_carrier=dict(type="bool", default=False),
            limits_unit=dict(type="str"),
            endpoints_unit=dict(type="str"),
            links=dict(type="list", elements="dict", default=[], options=dict(
                interface=dict(type="str", required=True),
                address=dict(type="str"),
                addresses=dict(type="list", elements="str", default=[]),
                backup=dict(type="bool", default=False),
            )),
            link_count=dict(type="int"),
            excluded_interfaces=dict(type="list", elements="str", default=[]),
            files=dict(type="list", elements="path", default=[]),
        ),
    ).create_ansible_module(supports_check_mode=True)
    run_module(module, PreflightModule(module).run)


if __name__ == "__main__":
    main()
