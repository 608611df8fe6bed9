"""Bad inputs, as a user passes them (`-e` JSON), to every role through the
collection's playbooks on real lab hosts. Each must be refused with a message
that names the variable (and the value, where it has one), without a Python
traceback, and leave both hosts exactly as they were; a value that Ansible
converts losslessly (a quoted number, a comma-separated list) must work
exactly like the typed one.

The server is configured first (MPTCP with limits, NetworkManager endpoints,
a sysctl, a service drop-in); the client is left as it boots (fresh): so a
refusal must neither touch a configured host nor start configuring a new one."""

import json
import re
import time

import pytest

from conftest import diff_snapshots

LAB = "h2-system"
ENABLE, DISABLE, TEMPORARY, PERMANENT = ("playbooks/%s.yml" % name for name in
                                         ("enable", "disable", "temporary", "permanent"))
APPS, VERIFY = "playbooks/apps.yml", "playbooks/verify.yml"
HOSTS = ("server", "client")

# The server's configuration (enable.yml, made to manage the paths, and
# apps.yml), which the lossless cases repeat in other spellings.
BASELINE = {
    "mptcp_paths": "permanent",
    "mptcp_limits": {"subflows": 3, "add_addr_accepted": 1},
    "mptcp_endpoints_backend": "networkmanager",
    "mptcp_endpoints": [{"interface": "link2", "flags": ["signal", "subflow", "also-without-default-route"]}],
    "mptcp_sysctls": {"add_addr_timeout": 60},
}
APPS_BASELINE = {"mptcp_apps_units": ["iperf3.service"]}

# A Python exception or a template crash, instead of a refusal.
CRASH_MARKERS = ("Traceback", "MODULE FAILURE", "Exception", "<<< caused by >>>",
                 '"msg": "Task failed: Module failed:', "Task failed: Finalization of task args")
FAILED_LINE = re.compile(r"^(?:fatal|failed): \[(?P<host>[^\]]+)\].*?=> (?P<result>\{.*\})\s*$", re.M)

MY_LINK2 = "{{ mptcp_links[1].address }}"


def runtime(*endpoints, **more):
    return dict({"mptcp_endpoints_backend": "runtime", "mptcp_endpoints": list(endpoints)}, **more)


def nm(*endpoints, **more):
    return dict({"mptcp_endpoints_backend": "networkmanager", "mptcp_endpoints": list(endpoints)}, **more)


def case(case_id, playbook, extra_vars, expected=None, limit=None):
    """One row: the playbook, the `-e` JSON, what the failure message must
    contain (the variable, and the value where Ansible or the collection can
    name it), and the hosts it runs on (default: both)."""
    args = (playbook, extra_vars, limit) if expected is None else (playbook, extra_vars, expected, limit)
    return pytest.param(*args, id=case_id)


BAD = [
    # -- role mptcp: limits
    case("limits-word", ENABLE, {"mptcp_limits": {"subflows": "three"}}, ["mptcp_limits", "subflows", "three"]),
    case("limits-fraction", ENABLE, {"mptcp_limits": {"subflows": 2.5}}, ["mptcp_limits", "subflows", "2.5"]),
    case("limits-above-8", ENABLE, {"mptcp_limits": {"subflows": 9}}, ["mptcp_limits.subflows=9"]),
    case("limits-negative", ENABLE, {"mptcp_limits": {"add_addr_accepted": -1}}, ["mptcp_limits.add_addr_accepted=-1"]),
    case("limits-unknown-key", ENABLE, {"mptcp_limits": {"subflow": 2}}, ["mptcp_limits.subflow"]),
    case("limits-not-a-dict", ENABLE, {"mptcp_limits": "3"}, ["mptcp_limits"]),
    # -- role mptcp: endpoints, types and names
    case("endpoints-not-a-list", ENABLE, {"mptcp_endpoints": {"interface": "link1"}}, ["mptcp_endpoints"]),
    case("endpoint-a-string", ENABLE, {"mptcp_endpoints": ["link1"]}, ["mptcp_endpoints"]),
    case("endpoint-unknown-key", ENABLE, nm({"interface": "link1", "adress": "192.0.2.9"}), ["mptcp_endpoints", "adress"]),
    case("endpoint-bad-flag", ENABLE, nm({"interface": "link1", "flags": ["sigal"]}), ["mptcp_endpoints", "sigal"]),
    case("endpoint-id-word", ENABLE, runtime({"address": MY_LINK2, "id": "five"}), ["mptcp_endpoints", "id", "five"]),
    case("backend-unknown", ENABLE, {"mptcp_endpoints_backend": "kernel"}, ["mptcp_endpoints_backend", "kernel"]),
    case("state-unknown", ENABLE, {"mptcp_state": "on"}, ["mptcp_state", "on"]),
    case("bool-word", ENABLE, {"mptcp_manage_packages": "maybe"}, ["mptcp_manage_packages", "maybe"]),
    # -- role mptcp: addresses on each backend
    case("runtime-bad-address", ENABLE, runtime({"address": "192.0.2.300", "interface": "link1"}),
         ["mptcp_endpoints[0].address", "192.0.2.300"]),
    case("nm-bad-address", ENABLE, nm({"interface": "link1", "address": "not-an-ip"}),
         ["mptcp_endpoints[0].address", "not-an-ip"]),
    case("runtime-zone-id", ENABLE, runtime({"address": "fe80::1%link1", "interface": "link1"}),
         ["mptcp_endpoints[0].address", "fe80::1%link1"]),
    case("nm-zone-id", ENABLE, nm({"interface": "link2", "address": "2001:db8::2%link2"}),
         ["mptcp_endpoints[0].address", "2001:db8::2%link2"]),
    case("runtime-empty-address", ENABLE, runtime({"address": "", "interface": "link1"}),
         ["mptcp_endpoints[0].address", "''"]),
    case("runtime-no-address", ENABLE, runtime({"interface": "link1", "flags": ["subflow"]}),
         ["mptcp_endpoints[0]", "need an address"]),
    case("runtime-loopback", ENABLE, runtime({"address": "127.0.0.1"}), ["mptcp_endpoints[0].address", "127.0.0.1"]),
    # -- role mptcp: flags, ids, duplicates, interfaces, profiles
    case("runtime-signal-fullmesh", ENABLE, runtime({"address": MY_LINK2, "flags": ["signal", "fullmesh", "subflow"]}),
         ["mptcp_endpoints[0]", "signal and fullmesh"]),
    case("nm-signal-fullmesh", ENABLE, nm({"interface": "link2", "flags": ["signal", "fullmesh", "subflow"]}),
         ["mptcp_endpoints[0]", "signal and fullmesh"]),
    case("default-flags-signal-fullmesh", ENABLE,
         runtime({"address": MY_LINK2}, mptcp_endpoint_default_flags=["signal", "fullmesh"]),
         ["mptcp_endpoint_default_flags", "signal and fullmesh"]),
    case("runtime-nm-only-flag", ENABLE, runtime({"address": MY_LINK2, "flags": ["subflow", "also-without-sysctl"]}),
         ["mptcp_endpoints[0].flags", "also-without-sysctl"]),
    case("runtime-port-without-signal", ENABLE, runtime({"address": MY_LINK2, "port": 8080, "flags": ["subflow"]}),
         ["mptcp_endpoints[0]", "port needs flag signal"]),
    case("runtime-id-256", ENABLE, runtime({"address": MY_LINK2, "id": 256}), ["mptcp_endpoints[0].id", "256"]),
    case("runtime-duplicate-address", ENABLE, runtime({"address": "198.51.100.2"}, {"address": "198.51.100.2"}),
         ["mptcp_endpoints", "198.51.100.2", "more than once"]),
    case("runtime-duplicate-id", ENABLE, runtime({"address": "192.0.2.2", "id": 5}, {"address": "198.51.100.2", "id": 5}),
         ["mptcp_endpoints", "id 5", "more than once"]),
    case("runtime-nine-endpoints", ENABLE, runtime(*({"address": "203.0.113.%d" % n} for n in range(1, 10))),
         ["mptcp_endpoints", "9 endpoints"]),
    case("runtime-unknown-interface", ENABLE, runtime({"address": MY_LINK2, "interface": "eth9"}),
         ["mptcp_endpoints[0].interface", "eth9"]),
    case("nm-unknown-interface", ENABLE, nm({"interface": "eth9"}), ["mptcp_endpoints[0].interface", "eth9"]),
    case("nm-empty-interface", ENABLE, nm({"interface": ""}), ["mptcp_endpoints[0].interface", "empty"]),
    case("nm-unknown-profile", ENABLE, nm({"profile": "nosuch"}), ["mptcp_endpoints[0].profile", "nosuch"]),
    case("nm-interface-and-profile", ENABLE, nm({"interface": "link1", "profile": "link1"}),
         ["mptcp_endpoints[0]", "link1"]),
    case("nm-duplicate-interface", ENABLE, nm({"interface": "link1"}, {"interface": "link1", "flags": ["backup"]}),
         ["mptcp_endpoints", "link1", "more than once"]),
    case("nm-disabled-unknown-interface", ENABLE, nm(mptcp_nm_disabled_interfaces=["eth9"]),
         ["mptcp_nm_disabled_interfaces[0]", "eth9"]),
    # -- role mptcp: sysctls, files, unit, namespace
    case("sysctl-unknown", ENABLE, {"mptcp_sysctls": {"nosuch": 1}}, ["mptcp_sysctls.nosuch"]),
    case("sysctl-bad-value", ENABLE, {"mptcp_sysctls": {"checksum_enabled": 2}}, ["mptcp_sysctls.checksum_enabled", "2"]),
    case("sysctl-other-subsystem", ENABLE, {"mptcp_sysctls": {"net.ipv4.ip_forward": 1}},
         ["mptcp_sysctls", "net.ipv4.ip_forward"]),
    case("sysctl-unknown-on-disable", DISABLE, {"mptcp_sysctls": {"nosuch": 1}}, ["mptcp_sysctls.nosuch"]),
    case("sysctl-file-no-directory", ENABLE, {"mptcp_sysctl_file": "/nonexistent/90-mptcp.conf"},
         ["mptcp_sysctl_file", "/nonexistent/90-mptcp.conf"]),
    case("limits-unit-path", ENABLE, {"mptcp_limits": {"subflows": 2}, "mptcp_limits_unit": "../../tmp/evil.service"},
         ["mptcp_limits_unit", "../../tmp/evil.service"]),
    case("endpoints-unit-path", ENABLE, {"mptcp_endpoints_unit": "../../tmp/evil.service"},
         ["mptcp_endpoints_unit", "../../tmp/evil.service"]),
    case("namespace-bad-name", ENABLE, {"mptcp_namespace": "../x"}, ["mptcp_namespace", "../x"]),
    case("namespace-missing", ENABLE, {"mptcp_namespace": "nosuch"}, ["mptcp_namespace", "nosuch"]),
    # -- playbooks: what they derive from the inventory
    case("temporary-bad-link-address", TEMPORARY,
         {"mptcp_links": [{"interface": "link1", "address": "192.0.2.1"},
                          {"interface": "link2", "address": "198.51.100.300"}]},
         ["mptcp_links[1].address", "198.51.100.300"], limit="server"),
    case("permanent-unknown-link", PERMANENT, {"mptcp_links": [{"interface": "eth9", "address": "192.0.2.2"}]},
         ["mptcp_links[0].interface", "eth9"]),
    case("permanent-link-count-word", PERMANENT, {"mptcp_link_count": "two"}, ["mptcp_link_count", "two"]),
    # -- role mptcp_apps (apps.yml runs on the servers)
    case("apps-state-unknown", APPS, {"mptcp_apps_state": "enabled"}, ["mptcp_apps_state", "enabled"]),
    case("apps-units-a-dict", APPS, {"mptcp_apps_units": {"iperf3.service": True}}, ["mptcp_apps_units"]),
    case("apps-unit-no-suffix", APPS, {"mptcp_apps_units": ["iperf3"]}, ["mptcp_apps_units", "iperf3"]),
    case("apps-unit-unknown", APPS, {"mptcp_apps_units": ["nosuch.service"]}, ["mptcp_apps_units", "nosuch.service"]),
    case("apps-unit-empty", APPS, {"mptcp_apps_units": [""]}, ["mptcp_apps_units"]),
    case("apps-bool-word", APPS, {"mptcp_apps_godebug": "sometimes"}, ["mptcp_apps_godebug", "sometimes"]),
    case("apps-dropin-name-path", APPS, dict(APPS_BASELINE, mptcp_apps_dropin_name="../evil.conf"),
         ["mptcp_apps_dropin_name", "../evil.conf"]),
    # -- role mptcp_verify
    case("verify-port-word", VERIFY, {"mptcp_verify_port": "http"}, ["mptcp_verify_port", "http"]),
    case("verify-port-range", VERIFY, {"mptcp_verify_port": 70000}, ["mptcp_verify_port", "70000"]),
    # Ansible 2.19 names the type of a float it cannot convert, not the value
    case("verify-share-word", VERIFY, {"mptcp_verify_min_share": "lots"}, ["mptcp_verify_min_share"]),
    case("verify-share-above-1", VERIFY, {"mptcp_verify_min_share": 2}, ["mptcp_verify_min_share", "2"]),
    case("verify-size-unit", VERIFY, {"mptcp_verify_size": "16Q"}, ["mptcp_verify_size", "16Q"]),
    case("verify-unknown-server", VERIFY, {"mptcp_verify_server": "nosuch"}, ["mptcp_verify_server", "nosuch"]),
]

# Values Ansible converts without loss: the run must succeed and change
# nothing on the configured server (the same as the typed values).
LOSSLESS = [
    case("limits-quoted-numbers", ENABLE, dict(BASELINE, mptcp_limits={"subflows": "3", "add_addr_accepted": "1"}),
         limit="server"),
    case("flags-comma-separated", ENABLE,
         dict(BASELINE, mptcp_endpoints=[{"interface": "link2", "flags": "signal,subflow,also-without-default-route"}]),
         limit="server"),
    case("booleans-as-words", ENABLE, dict(BASELINE, mptcp_endpoints_exclusive="yes", mptcp_manage_packages="true"),
         limit="server"),
    case("apps-unit-as-a-string", APPS, {"mptcp_apps_units": "iperf3.service"}, limit="server"),
]


def failure_messages(output):
    """The msg of every failed task result (what a user reads as the reason);
    the whole [ERROR] text when no result line is there."""
    messages = []
    for match in FAILED_LINE.finditer(output):
        try:
            result = json.loads(match.group("result"))
        except ValueError:
            messages.append(match.group("result"))
            continue
        messages.append(str(result.get("msg", match.group("result"))))
    if not messages:
        messages = [line for line in output.splitlines() if "ERROR" in line]
    return "\n".join(messages)


@pytest.fixture(scope="module")
def lab(lab_factory):
    lab = lab_factory(LAB)
    started = time.monotonic()
    for playbook, extra_vars in ((ENABLE, BASELINE), (APPS, APPS_BASELINE)):
        result = lab.playbook(playbook, extra_vars=extra_vars, limit="server")
        assert result.rc == 0, result.output
    print("baseline configured in %.1f s" % (time.monotonic() - started))
    return lab


def assert_refused_by_name(result, expected):
    """The run failed with a message naming every text of ``expected``, not with a crash; returns the
    failure messages."""
    assert result.rc != 0, "accepted:\n" + result.output
    for marker in CRASH_MARKERS:
        assert marker not in result.output, "%r in the output:\n%s" % (marker, result.output)
    messages = failure_messages(result.output)
    missing = [text for text in expected if text not in messages]
    assert not missing, "the message does not name %s:\n%s" % (missing, messages)
    return messages


@pytest.fixture(scope="module")
def known():
    """The last snapshot of each host: a case's "after" is the next one's
    "before", which halves the snapshots (the host is only changed by a case
    that fails anyway, and then the next case starts from what it left)."""
    return {}


@pytest.mark.parametrize("playbook, extra_vars, expected, limit", BAD)
def test_bad_input_is_refused_by_name_and_changes_nothing(lab, known, playbook, extra_vars, expected, limit):
    before = {host: known.get(host) or lab.snapshot(host) for host in HOSTS}
    result = lab.playbook(playbook, extra_vars=extra_vars, limit=limit)
    after = {host: lab.snapshot(host) for host in HOSTS}
    known.update(after)

    assert_refused_by_name(result, expected)
    for host in HOSTS:
        changes = diff_snapshots(before[host], after[host])
        assert changes == [], "%s changed:\n%s\n%s" % (host, "\n".join(changes), result.output)


@pytest.mark.parametrize("playbook, extra_vars, limit", LOSSLESS)
def test_lossless_conversion_works_like_the_typed_value(lab, known, playbook, extra_vars, limit):
    before = known.get("server") or lab.snapshot("server")
    result = lab.playbook(playbook, extra_vars=extra_vars, limit=limit)
    after = known["server"] = lab.snapshot("server")

    assert result.rc == 0, result.output
    assert result.recap["server"]["changed"] == 0, result.output
    changes = diff_snapshots(before, after)
    assert changes == [], "server changed:\n%s\n%s" % ("\n".join(changes), result.output)
    # what the typed baseline set is there, as numbers
    assert (after["limits"]["subflows"], after["limits"]["add_addr_accepted"]) == (3, 1)
    assert after["units"]["iperf3.service"]["DropInPaths"].endswith("/50-mptcp.conf"), after["units"]
