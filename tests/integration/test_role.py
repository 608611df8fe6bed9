"""The mptcp role through the seed's playbooks, against two namespaces that
stand in for the server and the client (runtime settings: 34.3 and 34.6).
NetworkManager, the sysctl.d file and the limits unit are tested on the lab's
real hosts (molecule)."""

import json
import os
import re
import shutil
import subprocess
import sys

from conftest import run_playbook
from netns_lab import NetnsPair

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def playbook(name):
    return os.path.join(ROOT, "playbooks", name)


def changed_counts(output):
    return dict((host, int(count)) for host, count in re.findall(r"^(\w+)\s+: ok=\d+\s+changed=(\d+)", output, re.M))


def kernel(lab, namespace):
    endpoints = json.loads(lab.exec(namespace, ["ip", "-j", "mptcp", "endpoint", "show"]).stdout)
    limits = lab.exec(namespace, ["ip", "mptcp", "limits", "show"]).stdout.split()
    enabled = lab.exec(namespace, ["sysctl", "-n", "net.mptcp.enabled"]).stdout.strip()
    return {"endpoints": endpoints, "limits": limits, "enabled": enabled}


def test_temporary_then_disable(lab, interpreter, tmp_path):
    inventory = lab.inventory(str(tmp_path / "inventory.json"), interpreter)
    lab.exec(lab.server, ["sysctl", "-w", "net.mptcp.enabled=0"])
    untouched = kernel(lab, lab.server), kernel(lab, lab.client)

    check = run_playbook(playbook("temporary.yml"), inventory, "--check", "--diff")
    # server: the sysctl, the limits, the endpoints; client (MPTCP already on): the limits, the endpoints
    assert changed_counts(check.stdout) == {"server": 3, "client": 2}
    # the plan in ip mptcp words, with its reasons
    assert "ip mptcp endpoint add 198.51.100.1 dev enp1s0 signal  # server: announce" in check.stdout
    assert (kernel(lab, lab.server), kernel(lab, lab.client)) == untouched, "check mode changed the kernel"

    run_playbook(playbook("temporary.yml"), inventory)
    server, client = kernel(lab, lab.server), kernel(lab, lab.client)
    assert server["enabled"] == client["enabled"] == "1"
    # the plan: the server announces both addresses, the client takes one announcement per link (laminar, 0x20)
    assert server["endpoints"] == [{"address": "192.0.2.1", "id": 1, "signal": True, "dev": "enp4s0"},
                                   {"address": "198.51.100.1", "id": 2, "signal": True, "dev": "enp1s0"}]
    assert client["endpoints"] == [{"address": "192.0.2.2", "id": 1, "rawflags": "20", "dev": "enp4s0f0"},
                                   {"address": "198.51.100.2", "id": 2, "rawflags": "20", "dev": "enp4s0f1"}]
    assert client["limits"] == ["add_addr_accepted", "1", "subflows", "1"]
    assert server["limits"] == ["add_addr_accepted", "0", "subflows", "1"]

    again = run_playbook(playbook("temporary.yml"), inventory)
    assert changed_counts(again.stdout) == {"server": 0, "client": 0}
    again_check = run_playbook(playbook("temporary.yml"), inventory, "--check", "--diff")
    assert changed_counts(again_check.stdout) == {"server": 0, "client": 0}

    run_playbook(playbook("disable.yml"), inventory)
    for namespace in (lab.server, lab.client):
        assert kernel(lab, namespace) == {"endpoints": [], "limits": ["add_addr_accepted", "0", "subflows", "2"],
                                          "enabled": "0"}
    disable_again = run_playbook(playbook("disable.yml"), inventory)
    assert changed_counts(disable_again.stdout) == {"server": 0, "client": 0}


def test_advice_when_a_given_limit_refuses_the_servers_announcement(lab, interpreter, tmp_path):
    """mptcp_limits wins over the plan; one below what the plan needs is advised."""
    inventory = lab.inventory(str(tmp_path / "inventory.json"), interpreter)
    result = run_playbook(playbook("temporary.yml"), inventory, "--check",
                          "-e", '{"mptcp_limits": {"add_addr_accepted": 0}}')
    output = " ".join((result.stdout + result.stderr).split())
    assert ("mptcp_limits.add_addr_accepted=0 is below what the plan needs (1, client: take the 1 other ipv4 "
            "address(es) server server announces)") in output
    # the server, which takes no announcement, is not advised; the plan's own values advise nobody
    assert output.count("is below what the plan needs") == 1
    sound = run_playbook(playbook("temporary.yml"), inventory, "--check")
    assert "is below what the plan needs" not in sound.stdout + sound.stderr


def test_strict_reverse_path_filtering_on_a_client_link_is_advised(lab, interpreter, tmp_path):
    """The plan reads each link's rp_filter on the host (rule 8): strict filtering on a link that carries
    subflow endpoints (a single-homed plan here) is named with the sysctl to set; loose filtering is not."""
    inventory = lab.inventory(str(tmp_path / "inventory.json"), interpreter)
    single_homed = ("-e", '{"mptcp_topology": "single_homed"}')
    lab.exec(lab.client, ["sysctl", "-qw", "net.ipv4.conf.enp4s0f1.rp_filter=1"])
    strict = run_playbook(playbook("temporary.yml"), inventory, "--check", *single_homed)
    output = " ".join(strict.stdout.split())
    assert ("net.ipv4.conf.enp4s0f1.rp_filter is 1 (strict): the subflows over enp4s0f1 to a server address routed "
            "through another link are dropped; set it to 2 (loose)") in output
    assert "net.ipv4.conf.enp4s0f0.rp_filter is 1" not in output
    lab.exec(lab.client, ["sysctl", "-qw", "net.ipv4.conf.enp4s0f1.rp_filter=2"])
    loose = run_playbook(playbook("temporary.yml"), inventory, "--check", *single_homed)
    assert "rp_filter is 1" not in loose.stdout


def test_verify_role_proves_both_links_carry_the_transfer(interpreter, tmp_path):
    with NetnsPair(prefix="mptcp-vf", links=2, rate="20mbit") as lab:
        inventory = lab.inventory(str(tmp_path / "inventory.json"), interpreter)
        run_playbook(playbook("temporary.yml"), inventory)
        result = run_playbook(playbook("verify.yml"), inventory, "-e", "mptcp_verify_size=4M")
        assert "MPTCP used every link" in result.stdout
        assert "additional subflows: 1 (expected at least 1)" in " ".join(result.stdout.split())
        # with announcements refused the same check must fail: it can tell
        lab.exec(lab.client, ["ip", "mptcp", "limits", "set", "add_addr_accepted", "0"])
        failed = run_playbook(playbook("verify.yml"), inventory, "-e", "mptcp_verify_size=1M", expect_failure=True)
        assert "the transfer did not use MPTCP over every link" in failed.stdout
        for host in ("server", "client"):
            assert not os.path.exists("/var/tmp/mptcp-verify-" + host), "the role left its work directory behind"


def run_role(lab, interpreter, tmp_path, role_vars, check=True, env=None):
    play = tmp_path / "play.yml"
    play.write_text(json.dumps([{
        "name": "Run the role with test variables",
        "hosts": "server",
        "gather_facts": False,
        "roles": [{"role": "mptcp.multipath.mptcp", "vars": role_vars}],
    }]))
    inventory = lab.inventory(str(tmp_path / "inventory.json"), interpreter)
    result = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", inventory,
                             str(play)], capture_output=True, text=True, check=False, env=env)
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_bad_input_stops_the_role_before_any_change(lab, interpreter, tmp_path):
    lab.exec(lab.server, ["sysctl", "-w", "net.mptcp.enabled=0"])
    before = kernel(lab, lab.server)
    cases = [
        ({"mptcp_limits": {"subflows": 9}}, "subflows=9 is out of range"),
        # refused by the role's argument spec
        ({"mptcp_limits": {"subflow": 2}}, "mptcp_limits.subflow. Supported parameters include"),
        ({"mptcp_endpoints_backend": "runtime",
          "mptcp_endpoints": [{"address": "198.51.100.1", "flags": ["signal", "fullmesh"]}]},
         "signal and fullmesh cannot be combined"),
        ({"mptcp_endpoints_backend": "runtime",
          "mptcp_endpoints": [{"address": "198.51.100.1", "interface": "wlan7", "flags": ["signal"]}]},
         "interface 'wlan7' does not exist"),
        ({"mptcp_endpoints_backend": "runtime", "mptcp_endpoints": [{"interface": "enp1s0", "flags": ["subflow"]}]},
         "runtime endpoints need an address"),
        ({"mptcp_endpoints_backend": "networkmanager"}, "can only be runtime ones"),
        ({"mptcp_endpoints_backend": "runtime",
          "mptcp_endpoints": [{"address": "127.0.0.1", "flags": ["subflow"]}]}, "127.0.0.1 is a loopback address"),
        ({"mptcp_state": "sideways"}, "sideways"),
        ({"mptcp_endpoints_unit": "../evil.service"},
         "mptcp_endpoints_unit '../evil.service' is not a systemd service name"),
    ]
    for role_vars, message in cases:
        result = run_role(lab, interpreter, tmp_path, role_vars, check=False)
        assert result.returncode != 0, role_vars
        assert message in result.stdout + result.stderr, (role_vars, result.stdout[-3000:])
        assert kernel(lab, lab.server) == before, "the role changed the kernel before refusing %s" % role_vars


def test_an_ip_that_cannot_list_the_endpoints_stops_the_role_before_any_change(lab, interpreter, tmp_path):
    # the preflight once took a failed `ip mptcp endpoint show` for "no endpoints"
    fake = tmp_path / "bin" / "ip"
    fake.parent.mkdir()
    fake.write_text('#!/bin/sh\ncase " $* " in *" mptcp endpoint show "*) echo "Error: no MPTCP here" >&2; exit 2;; esac\n'
                    'exec %s "$@"\n' % shutil.which("ip"))
    fake.chmod(0o755)
    lab.exec(lab.server, ["sysctl", "-w", "net.mptcp.enabled=0"])
    before = kernel(lab, lab.server)
    env = dict(os.environ, PATH="%s:%s" % (fake.parent, os.environ["PATH"]))
    result = run_role(lab, interpreter, tmp_path, {"mptcp_endpoints_backend": "runtime"}, check=False, env=env)
    assert result.returncode != 0, result.stdout[-3000:]
    assert "ip -j mptcp endpoint show failed (rc=2): Error: no MPTCP here" in result.stdout, result.stdout[-3000:]
    assert kernel(lab, lab.server) == before


def test_warnings_for_settings_that_silently_do_nothing(lab, interpreter, tmp_path):
    result = run_role(lab, interpreter, tmp_path, {
        "mptcp_endpoints_backend": "runtime",
        "mptcp_limits": {"subflows": 1},
        "mptcp_endpoints": [{"address": "192.0.2.1", "flags": ["subflow"]},
                            {"address": "198.51.100.1", "flags": ["subflow"]},
                            {"address": "2001:db8::1", "flags": ["subflow"]}],
    })
    output = " ".join((result.stdout + result.stderr).split())
    assert "3 subflow endpoints but a subflows limit of 1" in output
    assert "endpoints mix IPv4 and IPv6" in output
