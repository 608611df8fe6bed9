#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mptcp.multipath contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: mptcp_nm_profile
short_description: Set the MPTCP flags of NetworkManager connection profiles
version_added: 0.1.0
description:
  - Sets C(connection.mptcp-flags) of a NetworkManager profile, what an administrator does by hand with
    C(nmcli connection modify <profile_name> connection.mptcp-flags signal,subflow,also-without-default-route).
    NetworkManager then makes the profile's addresses MPTCP endpoints whenever the profile is active,
    across reboots.
  - The profile is chosen by O(name), O(uuid) or O(interface). O(profiles) sets several profiles in one task,
    reading NetworkManager and the kernel once for all of them; every entry is checked (its flags, its profile
    found, no profile chosen twice) before the first change, and an error names the entry (V(profiles[1].interface)).
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
    description:
      - Returns the profile's flags, and the endpoints of its active device, before and after.
      - With O(profiles), the same for each profile, under its name (and UUID where two profiles share a name).
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
      - Required unless O(profiles) is given.
    type: list
    elements: str
    choices: [disabled, enabled, also-without-sysctl, also-without-default-route, signal, subflow, backup, fullmesh, laminar]
  profiles:
    description:
      - Several profiles, each with its flags, instead of O(name), O(uuid), O(interface) and O(flags).
      - O(apply) and O(persistent) hold for all of them.
      - Two entries may not choose the same profile.
    type: list
    elements: dict
    suboptions:
      name:
        description:
          - The profile's name, as O(name).
          - V(profile) is the key the R(mptcp.multipath.mptcp,ansible_collections.mptcp.multipath.mptcp_role) role's
            endpoints use, so that they can be passed as they are.
        type: str
        aliases: [profile]
      uuid:
        description:
          - The profile's UUID, as O(uuid).
        type: str
      interface:
        description:
          - The interface whose profile to change, as O(interface).
        type: str
      flags:
        description:
          - The MPTCP flags of the profile, as O(flags).
        type: list
        elements: str
        required: true
        choices: [disabled, enabled, also-without-sysctl, also-without-default-route, signal, subflow, backup, fullmesh,
                  laminar]
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

- name: Every link's profile and the management interface in one task
  mptcp.multipath.mptcp_nm_profile:
    profiles:
      - interface: enp4s0f0
        flags: [signal, subflow, also-without-default-route]
      - name: enp4s0f1
        flags: [signal, subflow, backup, also-without-default-route]
      - interface: enp0s3
        flags: [disabled]

- name: Back to NetworkManager's default
  mptcp.multipath.mptcp_nm_profile:
    uuid: 5fcd8a2c-0f5e-4d1c-9d2e-0d6c2a9e4b11
    flags: []
"""

RETURN = r"""
profile:
  description: The profile that was chosen.
  returned: unless O(profiles) is given
  type: dict
  contains: &profile_keys
    name:
      description: Profile name.
      type: str
      sample: enp4s0f1
    uuid:
      description: Profile UUID.
      type: str
      sample: 5fcd8a2c-0f5e-4d1c-9d2e-0d6c2a9e4b11
    type:
      description: The profile's connection type.
      type: str
      sample: 802-3-ethernet
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
  returned: unless O(profiles) is given
  type: list
  elements: str
  sample: [signal, subflow, also-without-default-route]
previous_flags:
  description: The MPTCP flags before the task (O(persistent=false) - those the device ran with).
  returned: unless O(profiles) is given
  type: list
  elements: str
  sample: []
applied:
  description: Whether the change was applied to the active device now (O(persistent=false) - set on it).
  returned: unless O(profiles) is given
  type: bool
  sample: true
reactivated:
  description:
    - Whether the profile was activated again because a reapply did not make NetworkManager add the
      endpoints (a device it assumed when it started, for example after a restart during the run).
  returned: unless O(profiles) is given
  type: bool
  sample: false
endpoints:
  description:
    - The kernel endpoints of the profile's active device after the task (and those of the addresses
      NetworkManager makes endpoints of), as C(ip mptcp endpoint show) prints them, without the id.
    - Null when the profile is not active, O(apply=false) or C(ip) is missing.
  returned: unless O(profiles) is given
  type: list
  elements: str
  sample: [192.0.2.1 signal subflow dev enp4s0f1]
missing_endpoints:
  description: Addresses that lacked the endpoint NetworkManager makes for them before the task.
  returned: unless O(profiles) is given
  type: list
  elements: str
  sample: [192.0.2.1]
profiles:
  description:
    - With O(profiles), one entry per profile, in the order of O(profiles).
    - Each is the keys of RV(profile) and the other results of the single-profile form, for that profile.
  returned: when O(profiles) is given
  type: list
  elements: dict
  contains:
    # the keys of profile, then the other results of the single-profile form
    <<: *profile_keys
    changed:
      description: Whether this profile (or its device) was changed.
      type: bool
      sample: true
    flags:
      description: As RV(flags), for this profile.
      type: list
      elements: str
      sample: [signal, subflow, also-without-default-route]
    previous_flags:
      description: As RV(previous_flags), for this profile.
      type: list
      elements: str
      sample: []
    applied:
      description: As RV(applied), for this profile.
      type: bool
      sample: true
    reactivated:
      description: As RV(reactivated), for this profile.
      type: bool
      sample: false
    endpoints:
      description: As RV(endpoints), for this profile's device.
      type: list
      elements: str
      sample: [192.0.2.1 signal subflow dev enp4s0f1]
    missing_endpoints:
      description: As RV(missing_endpoints), for this profile's device.
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
    at,
    choose_profiles,
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
SELECTORS = ("name", "uuid", "interface")
# what each entry of the profiles result holds beside its profile's keys
ENTRY_KEYS = ("changed", "flags", "previous_flags", "applied", "reactivated", "endpoints", "missing_endpoints")


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


def profiles_result(results):
    """The result of the profiles form from each entry's module_result: one
    entry per profile, the diff keyed by profile name (and uuid where two
    profiles share a name)."""
    names = [result["profile"]["name"] for result in results]
    entries, before, after = [], {}, {}
    for result in results:
        profile = result["profile"]
        entry = dict(profile)
        entry.update((key, result[key]) for key in ENTRY_KEYS)
        entries.append(entry)
        label = profile["name"] if names.count(profile["name"]) == 1 else "%s (%s)" % (profile["name"], profile["uuid"])
        before[label] = result["diff"]["before"]
        after[label] = result["diff"]["after"]
    return {"changed": any(result["changed"] for result in results), "profiles": entries,
            "diff": {"before": before, "after": after}}


def ordered_flags(flags):
    return [flag for flag in NM_FLAGS if flag in flags]


def route_devices(route, device):
    """The devices of one `ip -j route` entry; a listing filtered by device
    leaves `dev` out (``device`` then), a multipath route has it per hop."""
    if "dev" in route:
        return [route["dev"]]
    hops = [hop.get("dev") for hop in route.get("nexthops", [])]
    return hops or [device]


class NmProfileModule(object):

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.ip = module.get_bin_path("ip")

    def entries(self):
        """[(path, entry)]: each profile to set, with the option path its errors
        name (None for the single-profile form, whose messages name no option)."""
        if self.params["profiles"] is None:
            if all(self.params[key] is None for key in SELECTORS):
                # not in the argument spec, which would demand one of them beside profiles too
                raise MptcpError("one of the following is required: %s" % ", ".join(SELECTORS))
            return [(None, dict((key, self.params[key]) for key in SELECTORS + ("flags",)))]
        return [("profiles[%d]" % index, entry) for index, entry in enumerate(self.params["profiles"])]

    def select(self, nmcli, entries):
        profiles = nmcli.profiles()
        interface_names = None
        if any(entry["interface"] and not any(profile["active"] and profile["device"] == entry["interface"]
                                              for profile in profiles) for _path, entry in entries):
            fields = nmcli.fields([profile["uuid"] for profile in profiles], [INTERFACE_FIELD])
            interface_names = dict((uuid, values.get(INTERFACE_FIELD)) for uuid, values in fields.items())
        return choose_profiles(profiles, entries, interface_names)

    def ip_json(self, argv):
        return ip_json(self.module.run_command, [self.ip] + argv)

    def read_devices(self, devices):
        """What NetworkManager's endpoint rules look at, and the endpoints there
        are: (net.mptcp.enabled is 1, {device: (default-route IP versions,
        addresses)}, the kernel's endpoints). One ip run per kind for all the
        devices; filtered by the device when there is one."""
        try:
            with open(MPTCP_ENABLED_PATH) as handle:
                mptcp_enabled = handle.read().strip() == "1"
        except (IOError, OSError):
            mptcp_enabled = False
        only = ["dev", devices[0]] if len(devices) == 1 else []
        routes = [(version, self.ip_json(["-j", option, "route", "show", "default"] + only + ["table", "main"]))
                  for version, option in ((4, "-4"), (6, "-6"))]
        addresses = parse_addresses(self.ip_json(["-j", "addr", "show"] + only))
        endpoints = parse_endpoints(self.ip_json(["-j", "mptcp", "endpoint", "show"]))
        state = {}
        for device in devices:
            families = [version for version, listed in routes
                        if any(device in route_devices(route, device) for route in listed)]
            state[device] = (families, nm_addresses([entry for entry in addresses if entry["interface"] == device]))
        return mptcp_enabled, state, endpoints

    @staticmethod
    def wanted_on(bits, device, host):
        """The endpoints NetworkManager makes for ``device`` (``host``: read_devices)."""
        mptcp_enabled, state, _endpoints = host
        families, addresses = state[device]
        return nm_device_endpoints(bits, mptcp_enabled, families, addresses)

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
        entries = self.entries()
        nmcli = Nmcli(self.module, batch=self.params["profiles"] is not None)
        version = nmcli.version()
        if version[:2] < MIN_VERSION:
            raise MptcpError("NetworkManager %s is too old: connection.mptcp-flags needs %d.%d or newer"
                             % ((".".join(map(str, version)),) + MIN_VERSION))
        errors = []
        for path, entry in entries:
            names = ordered_flags(entry["flags"])
            problems = nm_flag_problems(names, version)
            if problems:
                errors.append(at(path and path + ".flags", "mptcp flags %s: %s" % (",".join(names), "; ".join(problems))))
        if errors:
            raise MptcpError("; ".join(errors))
        nmcli.check_running()
        plans = []
        for where, entry, profile in self.select(nmcli, entries):
            names = ordered_flags(entry["flags"])
            plans.append({"where": where, "profile": profile, "names": names, "bits": encode_nm_flags(names),
                          "device": profile["device"] if profile["active"] else None})
        if self.params["persistent"]:
            results = self.run_on_profiles(nmcli, plans)
        else:
            results = self.run_on_devices(nmcli, plans)
        return results[0] if self.params["profiles"] is None else profiles_result(results)

    def run_on_profiles(self, nmcli, plans):
        """Each plan's profile flags (and its active device's endpoints): every
        profile and device read once for all plans, then the changes."""
        apply = self.params["apply"]
        before = nmcli.mptcp_flags_of([plan["profile"]["uuid"] for plan in plans])
        # a device that runs with other flags than its profile (nmcli device modify): a reapply resets them
        applied = nmcli.applied_mptcp_flags([plan["device"] for plan in plans if apply and plan["device"]])
        checked = [plan["device"] for plan in plans if apply and plan["device"] and self.ip]
        host = None
        if checked:
            try:
                host = self.read_devices(checked)
            except MptcpError as exc:
                # an iproute2 without `ip mptcp` (or no MPTCP in the kernel): the profiles alone are managed
                self.module.warn("not checking the endpoints of %s: %s" % (", ".join(checked), exc))
        made = 0  # endpoints the reapplies planned so far will add
        for plan in plans:
            plan["before"] = before[plan["profile"]["uuid"]]
            plan["flags_changed"] = effective_nm_flags(plan["before"]) != effective_nm_flags(plan["bits"])
            plan["applied_bits"] = applied.get(plan["device"])
            plan["stale"] = (plan["applied_bits"] is not None
                             and effective_nm_flags(plan["applied_bits"]) != effective_nm_flags(plan["bits"]))
            plan["checked"] = host is not None and plan["device"] in checked
            plan["missing"], plan["endpoints_before"], plan["endpoints_after"] = [], None, None
            if plan["checked"]:
                made += self.plan_endpoints(plan, host, made)
        if self.module.check_mode:
            self.predict_endpoints(plans)

        changing = []
        for plan in plans:
            plan["changed"] = plan["flags_changed"] or bool(plan["missing"]) or plan["stale"]
            plan["after"] = plan["bits"] if plan["flags_changed"] else plan["before"]
            plan["applied"] = plan["reactivated"] = False
            if plan["changed"] and not self.module.check_mode:
                changing.append(plan)
        for plan in changing:
            if plan["flags_changed"]:
                nmcli.set_mptcp_flags(plan["profile"]["uuid"], plan["names"])
            if apply and plan["device"]:
                nmcli.reapply(plan["device"])
                plan["applied"] = True
        after = nmcli.mptcp_flags_of([plan["profile"]["uuid"] for plan in changing]) if changing else {}
        for plan in changing:
            plan["after"] = after[plan["profile"]["uuid"]]
            if plan["applied"] and plan["checked"]:
                plan["endpoints_after"], plan["reactivated"] = self.endpoints_after_reapply(
                    nmcli, plan["profile"], plan["after"], plan["device"])
        return [self.profile_result(plan) for plan in plans]

    def plan_endpoints(self, plan, host, made):
        """The endpoints of the plan's device now, and those a reapply would add
        (``made``: those the plans before add); returns how many it adds."""
        device, endpoints = plan["device"], host[2]
        plan["kernel_endpoints"] = endpoints
        plan["wanted"] = self.wanted_on(plan["before"], device, host)
        plan["endpoints_before"] = plan["endpoints_after"] = self.device_view(endpoints, device, plan["wanted"])
        if not plan["wanted"] or plan["flags_changed"]:
            return 0
        missing = missing_nm_endpoints(plan["wanted"], endpoints, device)
        if missing and len(endpoints) + made + len(missing) > MAX_ENDPOINTS:
            self.module.warn("%s lacks the endpoints NetworkManager makes for %s, but the kernel already "
                             "has %d of its at most %d endpoints; not reapplying"
                             % (device, ", ".join(missing), len(endpoints) + made, MAX_ENDPOINTS))
            return 0
        plan["missing"] = missing
        return len(missing)

    def predict_endpoints(self, plans):
        """Check mode: the endpoints after the reapplies, from the flags each
        profile would get (the devices read again, once for all)."""
        predicted = [plan for plan in plans if plan["checked"] and (plan["missing"] or plan["flags_changed"])]
        changed_devices = [plan["device"] for plan in predicted if plan["flags_changed"]]
        host = self.read_devices(changed_devices) if changed_devices else None
        for plan in predicted:
            wanted = self.wanted_on(plan["bits"], plan["device"], host) if plan["flags_changed"] else plan["wanted"]
            plan["endpoints_after"] = self.predicted_view(plan["kernel_endpoints"], plan["device"], wanted)

    @staticmethod
    def profile_result(plan):
        before, after = decode_nm_flags(plan["before"]), decode_nm_flags(plan["after"])
        diff = {"before": {FLAGS_FIELD: before}, "after": {FLAGS_FIELD: after}}
        if plan["checked"]:
            diff["before"]["endpoints"] = plan["endpoints_before"]
            diff["after"]["endpoints"] = plan["endpoints_after"]
        if plan["stale"]:
            diff["before"]["device " + FLAGS_FIELD] = decode_nm_flags(plan["applied_bits"])
            diff["after"]["device " + FLAGS_FIELD] = after
        return module_result(plan["profile"], changed=plan["changed"], flags=after, previous_flags=before,
                             applied=plan["applied"], reactivated=plan["reactivated"],
                             endpoints=plan["endpoints_after"], missing_endpoints=plan["missing"], diff=diff)

    def run_on_devices(self, nmcli, plans):
        """persistent=false: the flags of the active devices only, the profiles
        unchanged; an inactive profile is left alone."""
        devices = [plan["device"] for plan in plans if plan["device"]]
        before = nmcli.applied_mptcp_flags(devices)
        unreadable = [at(plan["where"], "cannot read the MPTCP flags %s runs with: persistent=false needs busctl "
                         "(systemd) and an activated device" % plan["device"])
                      for plan in plans if plan["device"] and before[plan["device"]] is None]
        if unreadable:
            raise MptcpError("; ".join(unreadable))
        changing = [plan for plan in plans if plan["device"]
                    and effective_nm_flags(before[plan["device"]]) != effective_nm_flags(plan["bits"])]
        after = dict((plan["device"], plan["bits"]) for plan in changing)
        if changing and not self.module.check_mode:
            for plan in changing:
                nmcli.modify_device(plan["device"], plan["names"])
            after = nmcli.applied_mptcp_flags([plan["device"] for plan in changing])
        results = []
        field = "device " + FLAGS_FIELD
        for plan in plans:
            device = plan["device"]
            if not device:
                results.append(module_result(plan["profile"]))
                continue
            changed = plan in changing
            before_names, after_names = decode_nm_flags(before[device]), decode_nm_flags(after.get(device, before[device]))
            results.append(module_result(plan["profile"], changed=changed, flags=after_names, previous_flags=before_names,
                                         applied=changed and not self.module.check_mode,
                                         diff={"before": {field: before_names}, "after": {field: after_names}}))
        return results

    def endpoints_after_reapply(self, nmcli, profile, bits, device):
        """(the device's endpoints once NetworkManager has made the ones it makes,
        whether the profile had to be activated again). A device that
        NetworkManager assumed when it started (e.g. it restarted during a run)
        gets no endpoints from a reapply, only from a new activation."""
        reactivated = False
        while True:
            deadline = time.time() + ENDPOINT_WAIT_SECONDS
            while True:
                host = self.read_devices([device])
                wanted, endpoints = self.wanted_on(bits, device, host), host[2]
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
    selectors = dict((key, dict(type="str")) for key in SELECTORS)
    flags = dict(type="list", elements="str", choices=list(NM_FLAGS))
    module = AnsibleModule(
        argument_spec=dict(
            selectors,
            flags=flags,
            # profile: the mptcp role's word for a profile's name (its endpoints pass through as they are)
            profiles=dict(type="list", elements="dict",
                          options=dict(selectors, name=dict(type="str", aliases=["profile"]), flags=dict(flags, required=True)),
                          required_one_of=[SELECTORS], mutually_exclusive=[SELECTORS]),
            apply=dict(type="bool", default=True),
            persistent=dict(type="bool", default=True),
        ),
        required_one_of=[("profiles", "flags")],
        mutually_exclusive=[SELECTORS] + [("profiles", key) for key in SELECTORS + ("flags",)],
        supports_check_mode=True,
    )
    run_module(module, NmProfileModule(module).run)


if __name__ == "__main__":
    main()
