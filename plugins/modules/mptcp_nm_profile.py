#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mptcp.multipath contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: mptcp_nm_profile
short_description: Set the MPTCP flags of a NetworkManager connection profile
version_added: 0.1.0
description:
  - Sets C(connection.mptcp-flags) of one NetworkManager profile, what an administrator does by hand with
    C(nmcli connection modify <profile_name> connection.mptcp-flags signal,subflow,also-without-default-route).
    NetworkManager then makes the profile's addresses MPTCP endpoints whenever the profile is active,
    across reboots.
  - The profile is chosen by O(name), O(uuid) or O(interface).
  - Flags are checked before anything is changed. Only known names are accepted, V(laminar) only with
    NetworkManager 1.56 or newer, never V(signal) with V(fullmesh), and V(disabled) only alone.
    NetworkManager 1.40 or newer must be installed and running.
  - With O(apply), the kernel endpoints are checked too. NetworkManager makes them only at activation
    and reapply, so endpoints removed behind its back (C(ip mptcp endpoint flush)), or never made because
    C(net.mptcp.enabled) was 0 when the profile came up, stay missing. When the profile's flags are set
    (not V([])) and the active device lacks an endpoint NetworkManager makes for one of its addresses
    (by NetworkManager's own rules, which look at the sysctl, at a default route unless
    V(also-without-default-route), and skip link-local and ULA addresses), the device is reapplied and the task reports a change, with the
    endpoints before and after in the diff. This check needs C(ip) (iproute2) and is skipped without it.
  - NetworkManager never sets C(net.mptcp.enabled) nor the limits; use M(mptcp.multipath.mptcp_sysctl) and
    M(mptcp.multipath.mptcp_limits), or the
    R(mptcp.multipath.mptcp,ansible_collections.mptcp.multipath.mptcp_role) role, which does all of it.
author:
  - mptcp.multipath developers (@mptcp-multipath)
attributes:
  check_mode:
    support: full
    description: Reports the change it would make.
  diff_mode:
    support: full
    description: Returns the profile's flags, and the endpoints of its active device, before and after.
options:
  name:
    description:
      - The profile's name (C(connection.id)).
    type: str
  uuid:
    description:
      - The profile's UUID.
    type: str
  interface:
    description:
      - The interface whose profile to change. The profile active on it is taken; when none is active,
        the one profile bound to it by C(connection.interface-name). Several candidates are an error.
    type: str
  flags:
    description:
      - The MPTCP flags of the profile, compared exactly (as numbers, since C(nmcli) prints them as hex).
      - V([]) resets the property to NetworkManager's default (C(0x0)), which follows the global default.
      - V(enabled) is implied by NetworkManager when endpoint flags are given without V(enabled) or V(disabled),
        so the two spellings are the same state here too.
    type: list
    elements: str
    required: true
    choices: [disabled, enabled, also-without-sysctl, also-without-default-route, signal, subflow, backup, fullmesh, laminar]
  apply:
    description:
      - When the flags change and the profile is active, apply them now with C(nmcli device reapply),
        so that the endpoints change without waiting for the next activation. Inactive profiles are never
        brought up.
      - Also reapply an active profile whose flags are right but whose device lacks endpoints that
        NetworkManager makes for it. V(false) changes only the profile.
      - When the endpoints still do not come within a few seconds of a reapply, the profile is activated
        again (C(nmcli connection up)), which takes the device's addresses away for a moment. NetworkManager
        1.42 makes no endpoints for a device it assumed at its start (it restarted while the device was
        being changed) until the device is activated again.
    type: bool
    default: true
  persistent:
    description:
      - V(false) leaves the profile as it is and sets the flags only on the device the profile is active on
        (C(nmcli device modify)), until that device is activated again or the host reboots, which is what a temporary
        configuration (the seed's 34.3) needs to keep NetworkManager's own endpoints off a link. A profile that
        is not active is left alone then (it makes no endpoints). The flags the device runs with are read from
        NetworkManager over D-Bus (C(busctl)), since C(nmcli) shows only the profile's.
      - With V(true) (and O(apply)), a device that runs with other flags than its profile (changed with
        C(nmcli device modify), for example by O(persistent=false)) is reapplied, so that the profile's flags
        hold again.
    type: bool
    default: true
requirements:
  - NetworkManager 1.40 or newer, running, with C(nmcli)
seealso:
  - module: mptcp.multipath.mptcp_endpoint
  - name: nm-settings-nmcli(5)
    description: The connection.mptcp-flags property.
    link: https://networkmanager.dev/docs/api/latest/nm-settings-nmcli.html
"""

EXAMPLES = r"""
- name: Make a profile's addresses MPTCP endpoints, even without a default route (a permanent configuration)
  mptcp.multipath.mptcp_nm_profile:
    name: enp4s0f1
    flags: [signal, subflow, also-without-default-route]

- name: Keep subflows off the management interface
  mptcp.multipath.mptcp_nm_profile:
    interface: enp0s3
    flags: [disabled]

- name: Keep NetworkManager's endpoints off a link until the next reboot, the profile unchanged
  mptcp.multipath.mptcp_nm_profile:
    interface: enp4s0f1
    flags: [disabled]
    persistent: false

- name: Back to NetworkManager's default
  mptcp.multipath.mptcp_nm_profile:
    uuid: 5fcd8a2c-0f5e-4d1c-9d2e-0d6c2a9e4b11
    flags: []
"""

RETURN = r"""
profile:
  description: The profile that was chosen.
  returned: always
  type: dict
  contains:
    name:
      description: Profile name.
      type: str
      sample: enp4s0f1
    uuid:
      description: Profile UUID.
      type: str
      sample: 5fcd8a2c-0f5e-4d1c-9d2e-0d6c2a9e4b11
    device:
      description: Device the profile is active on, or null.
      type: str
      sample: enp4s0f1
    active:
      description: Whether the profile is active.
      type: bool
      sample: true
flags:
  description:
    - The profile's MPTCP flags after the task, as names.
    - With O(persistent=false), the flags the device runs with (null when the profile is not active).
  returned: always
  type: list
  elements: str
  sample: [signal, subflow, also-without-default-route]
previous_flags:
  description: The MPTCP flags before the task (O(persistent=false) - those the device ran with).
  returned: always
  type: list
  elements: str
  sample: []
applied:
  description: Whether the change was applied to the active device now (O(persistent=false) - set on it).
  returned: always
  type: bool
  sample: true
reactivated:
  description:
    - Whether the profile was activated again because a reapply did not make NetworkManager add the
      endpoints (a device it assumed when it started, for example after a restart during the run).
  returned: always
  type: bool
  sample: false
endpoints:
  description:
    - The kernel endpoints of the profile's active device after the task (and those of the addresses
      NetworkManager makes endpoints of), as C(ip mptcp endpoint show) prints them, without the id.
    - Null when the profile is not active, O(apply=false) or C(ip) is missing.
  returned: always
  type: list
  elements: str
  sample: [192.0.2.1 signal subflow dev enp4s0f1]
missing_endpoints:
  description: Addresses that lacked the endpoint NetworkManager makes for them before the task.
  returned: always
  type: list
  elements: str
  sample: [192.0.2.1]
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mptcp.multipath.plugins.module_utils._common import MptcpError, run_module
from ansible_collections.mptcp.multipath.plugins.module_utils._endpoints import MAX_ENDPOINTS, describe_endpoint
from ansible_collections.mptcp.multipath.plugins.module_utils._links import ip_json, parse_addresses, parse_endpoints
from ansible_collections.mptcp.multipath.plugins.module_utils._nmcli import (
    FLAGS_FIELD,
    MIN_VERSION,
    NM_FLAGS,
    Nmcli,
    choose_profile,
    decode_nm_flags,
    effective_nm_flags,
    encode_nm_flags,
    missing_nm_endpoints,
    nm_addresses,
    nm_device_endpoints,
    nm_flag_problems,
)

INTERFACE_FIELD = "connection.interface-name"
MPTCP_ENABLED_PATH = "/proc/sys/net/mptcp/enabled"
# How long to wait for NetworkManager to make the endpoints after a reapply
# (it does so from its main loop, shortly after the call returns).
ENDPOINT_WAIT_SECONDS = 5


def module_result(profile, changed=False, flags=None, previous_flags=None, applied=False, reactivated=False,
                  endpoints=None, missing_endpoints=None, diff=None):
    """The module's result (RETURN), for both the profile and the device-only
    run; the defaults are a run that neither read nor changed any flags."""
    return {
        "changed": changed,
        "profile": profile,
        "flags": flags,
        "previous_flags": previous_flags,
        "applied": applied,
        "reactivated": reactivated,
        "endpoints": endpoints,
        "missing_endpoints": missing_endpoints or [],
        "diff": diff or {"before": {}, "after": {}},
    }


class NmProfileModule(object):

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.ip = module.get_bin_path("ip")

    def select(self, nmcli):
        profiles = nmcli.profiles()
        interface_names = None
        if self.params["interface"] and not any(
                profile["active"] and profile["device"] == self.params["interface"] for profile in profiles):
            interface_names = dict((profile["uuid"], nmcli.fields(profile["uuid"], [INTERFACE_FIELD]).get(INTERFACE_FIELD))
                                   for profile in profiles)
        return choose_profile(profiles, self.params["name"], self.params["uuid"], self.params["interface"],
                              interface_names)

    def ip_json(self, argv):
        return ip_json(self.module.run_command, [self.ip] + argv)

    def device_state(self, device):
        """What NetworkManager's endpoint rules look at, and the endpoints there are."""
        try:
            with open(MPTCP_ENABLED_PATH) as handle:
                mptcp_enabled = handle.read().strip() == "1"
        except (IOError, OSError):
            mptcp_enabled = False
        families = [version for version, option in ((4, "-4"), (6, "-6"))
                    if self.ip_json(["-j", option, "route", "show", "default", "dev", device, "table", "main"])]
        addresses = nm_addresses(parse_addresses(self.ip_json(["-j", "addr", "show", "dev", device])))
        endpoints = parse_endpoints(self.ip_json(["-j", "mptcp", "endpoint", "show"]))
        return mptcp_enabled, families, addresses, endpoints

    def wanted_endpoints(self, bits, device):
        """(endpoints NetworkManager makes for the device, all endpoints now)."""
        mptcp_enabled, families, addresses, endpoints = self.device_state(device)
        return nm_device_endpoints(bits, mptcp_enabled, families, addresses), endpoints

    @staticmethod
    def device_view(endpoints, device, wanted):
        """The endpoints shown in the diff: the device's and those of its wanted addresses."""
        return [describe_endpoint(endpoint) for endpoint in endpoints
                if endpoint["dev"] == device or endpoint["address"] in (wanted or {})]

    def predicted_view(self, endpoints, device, wanted):
        """device_view after a reapply, for check mode: NetworkManager replaces the
        device's endpoints (those without a port) by the ones it wants."""
        if wanted is None:
            return self.device_view(endpoints, device, wanted)
        kept = [endpoint for endpoint in endpoints if endpoint["address"] not in wanted
                and (endpoint["dev"] != device or endpoint["port"])]
        made = [{"address": address, "port": 0, "flags": flags, "dev": device} for address, flags in sorted(wanted.items())]
        return self.device_view(kept + made, device, wanted)

    def run(self):
        wanted_names = [flag for flag in NM_FLAGS if flag in self.params["flags"]]
        nmcli = Nmcli(self.module)
        version = nmcli.version()
        if version[:2] < MIN_VERSION:
            raise MptcpError("NetworkManager %s is too old: connection.mptcp-flags needs %d.%d or newer"
                             % ((".".join(map(str, version)),) + MIN_VERSION))
        problems = nm_flag_problems(wanted_names, version)
        if problems:
            raise MptcpError("mptcp flags %s: %s" % (",".join(wanted_names), "; ".join(problems)))
        nmcli.check_running()
        profile = self.select(nmcli)
        wanted_bits = encode_nm_flags(wanted_names)
        device = profile["device"] if profile["active"] else None
        if not self.params["persistent"]:
            return self.run_on_device(nmcli, profile, device, wanted_names, wanted_bits)

        before_bits = nmcli.mptcp_flags(profile["uuid"])
        flags_changed = effective_nm_flags(before_bits) != effective_nm_flags(wanted_bits)
        # the device runs with other flags than its profile (nmcli device modify): a reapply resets them
        applied_bits = nmcli.applied_mptcp_flags(device) if self.params["apply"] and device else None
        stale = applied_bits is not None and effective_nm_flags(applied_bits) != effective_nm_flags(wanted_bits)
        check_endpoints = bool(self.params["apply"] and device and self.ip)

        missing, endpoints_before, endpoints_after = [], None, None
        if check_endpoints:
            try:
                wanted, endpoints = self.wanted_endpoints(before_bits, device)
            except MptcpError as exc:
                # an iproute2 without `ip mptcp` (or no MPTCP in the kernel): the profile alone is managed
                self.module.warn("not checking the endpoints of %s: %s" % (device, exc))
                check_endpoints = False
        if check_endpoints:
            endpoints_before = self.device_view(endpoints, device, wanted)
            endpoints_after = endpoints_before
            if wanted and not flags_changed:
                missing = missing_nm_endpoints(wanted, endpoints, device)
                if missing and len(endpoints) + len(missing) > MAX_ENDPOINTS:
                    self.module.warn("%s lacks the endpoints NetworkManager makes for %s, but the kernel already "
                                     "has %d of its at most %d endpoints; not reapplying"
                                     % (device, ", ".join(missing), len(endpoints), MAX_ENDPOINTS))
                    missing = []
            if self.module.check_mode and (missing or flags_changed):
                endpoints_after = self.predicted_view(
                    endpoints, device, self.wanted_endpoints(wanted_bits, device)[0] if flags_changed else wanted)

        changed = flags_changed or bool(missing) or stale
        applied = reactivated = False
        after_bits = wanted_bits if flags_changed else before_bits
        if changed and not self.module.check_mode:
            if flags_changed:
                nmcli.set_mptcp_flags(profile["uuid"], wanted_names)
            if self.params["apply"] and device:
                nmcli.reapply(device)
                applied = True
            after_bits = nmcli.mptcp_flags(profile["uuid"])
            if applied and check_endpoints:
                endpoints_after, reactivated = self.endpoints_after_reapply(nmcli, profile, after_bits, device)

        before, after = decode_nm_flags(before_bits), decode_nm_flags(after_bits)
        diff = {"before": {FLAGS_FIELD: before}, "after": {FLAGS_FIELD: after}}
        if check_endpoints:
            diff["before"]["endpoints"] = endpoints_before
            diff["after"]["endpoints"] = endpoints_after
        if stale:
            diff["before"]["device " + FLAGS_FIELD] = decode_nm_flags(applied_bits)
            diff["after"]["device " + FLAGS_FIELD] = after
        return module_result(profile, changed=changed, flags=after, previous_flags=before, applied=applied,
                             reactivated=reactivated, endpoints=endpoints_after, missing_endpoints=missing, diff=diff)

    def run_on_device(self, nmcli, profile, device, wanted_names, wanted_bits):
        """persistent=false: the flags of the active device only, the profile unchanged."""
        if not device:
            return module_result(profile)
        before_bits = nmcli.applied_mptcp_flags(device)
        if before_bits is None:
            raise MptcpError("cannot read the MPTCP flags %s runs with: persistent=false needs busctl (systemd) "
                             "and an activated device" % device)
        changed = effective_nm_flags(before_bits) != effective_nm_flags(wanted_bits)
        after_bits = wanted_bits if changed else before_bits
        if changed and not self.module.check_mode:
            nmcli.modify_device(device, wanted_names)
            after_bits = nmcli.applied_mptcp_flags(device)
        before, after = decode_nm_flags(before_bits), decode_nm_flags(after_bits)
        field = "device " + FLAGS_FIELD
        return module_result(profile, changed=changed, flags=after, previous_flags=before,
                             applied=changed and not self.module.check_mode,
                             diff={"before": {field: before}, "after": {field: after}})

    def endpoints_after_reapply(self, nmcli, profile, bits, device):
        """(the device's endpoints once NetworkManager has made the ones it makes,
        whether the profile had to be activated again). A device that
        NetworkManager assumed when it started (e.g. it restarted during a run)
        gets no endpoints from a reapply, only from a new activation."""
        reactivated = False
        while True:
            deadline = time.time() + ENDPOINT_WAIT_SECONDS
            while True:
                wanted, endpoints = self.wanted_endpoints(bits, device)
                missing = missing_nm_endpoints(wanted or {}, endpoints, device)
                if not missing or time.time() > deadline:
                    break
                time.sleep(0.2)
            if not missing or reactivated:
                break
            nmcli.up(profile["uuid"])
            reactivated = True
        if missing:
            self.module.warn("NetworkManager made no endpoint for %s on %s, neither after a reapply nor after "
                             "activating %s again" % (", ".join(missing), device, profile["name"]))
        return self.device_view(endpoints, device, wanted), reactivated


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str"),
            uuid=dict(type="str"),
            interface=dict(type="str"),
            flags=dict(type="list", elements="str", required=True, choices=list(NM_FLAGS)),
            apply=dict(type="bool", default=True),
            persistent=dict(type="bool", default=True),
        ),
        required_one_of=[("name", "uuid", "interface")],
        mutually_exclusive=[("name", "uuid", "interface")],
        supports_check_mode=True,
    )
    run_module(module, NmProfileModule(module).run)


if __name__ == "__main__":
    main()
