"""The fixtures the system tests stand on: a snapshot must see every kind of
change the roles can make, and nothing else (two snapshots of an untouched
host are equal)."""

import subprocess
from pathlib import Path

from conftest import diff_snapshots

LAB = "h2-system"


def test_snapshot_is_stable_and_sees_changes(lab_factory):
    lab = lab_factory(LAB)
    host = "client"
    before = lab.snapshot(host)
    assert lab.snapshot(host) == before, diff_snapshots(before, lab.snapshot(host))
    assert before["limits"].keys() >= {"subflows", "add_addr_accepted"}, before["limits"]
    assert "net.mptcp.enabled" in before["sysctl"], before["sysctl"]
    profiles = {p["id"]: p for p in before["nm_profiles"].values()}
    assert {"link1", "link2"} <= set(profiles), before["nm_profiles"]

    changes = [
        ["sh", "-c", "printf 'net.mptcp.enabled = 1\\n' > /etc/sysctl.d/50-h2-fixture.conf"],
        ["mkdir", "/etc/systemd/system/ssh.service.d"],
        ["ip", "mptcp", "limits", "set", "subflows", "5"],
        ["ip", "mptcp", "endpoint", "add", "198.51.100.2", "dev", "link2", "signal"],
        ["nmcli", "connection", "modify", "link2", "connection.mptcp-flags", "signal"],
    ]
    keyfile = "/etc/NetworkManager/system-connections/link2.nmconnection"
    keyfile_text = lab.exec(host, ["cat", keyfile], check=True).stdout
    try:
        for argv in changes:
            lab.exec(host, argv, check=True)
        after = lab.snapshot(host)
        changed = diff_snapshots(before, after)
        text = "\n".join(changed)
        link2_uuid = [u for u, p in before["nm_profiles"].items() if p["id"] == "link2"][0]
        assert "/etc/sysctl.d/50-h2-fixture.conf: added" in text, text
        assert "/etc/systemd/system/ssh.service.d: added" in text, text
        assert "limits.subflows: %d -> 5" % before["limits"]["subflows"] in text, text
        assert "nm_profiles.%s.mptcp-flags" % link2_uuid in text, text
        assert "files./etc/NetworkManager/system-connections/link2.nmconnection.sha256" in text, text
        assert [e for e in after["endpoints"] if e.get("address") == "198.51.100.2" and e.get("signal")], text
        assert after["units"]["ssh.service"]["DropInPaths"] == "", "an empty drop-in directory holds no drop-in"
    finally:
        lab.exec(host, ["rm", "-f", "/etc/sysctl.d/50-h2-fixture.conf"])
        lab.exec(host, ["rmdir", "/etc/systemd/system/ssh.service.d"])
        lab.exec(host, ["ip", "mptcp", "limits", "set", "subflows", str(before["limits"]["subflows"])])
        for endpoint in lab.snapshot(host)["endpoints"]:
            if endpoint.get("address") == "198.51.100.2" and endpoint.get("signal"):
                lab.exec(host, ["ip", "mptcp", "endpoint", "delete", "id", str(endpoint["id"])])
        # nmcli rewrote the keyfile: put back the lab's bytes and let NetworkManager reread them
        lab.exec(host, ["sh", "-c", 'cat > "$1"', "-", keyfile], input=keyfile_text, check=True)
        lab.exec(host, ["nmcli", "connection", "reload"], check=True)
    restored = lab.snapshot(host)
    assert restored == before, diff_snapshots(before, restored)


def test_exec_and_playbook_report_failures(lab_factory, tmp_path):
    lab = lab_factory(LAB)
    result = lab.exec("server", ["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert (result.returncode, result.stdout, result.stderr) == (3, "out\n", "err\n")

    playbook = tmp_path / "fail.yml"
    playbook.write_text(
        "- hosts: all\n  gather_facts: false\n  tasks:\n"
        "    - ansible.builtin.command: hostname\n      changed_when: false\n"
        "    - ansible.builtin.fail:\n        msg: 'wanted {{ wanted }}'\n"
        "      when: inventory_hostname == 'client'\n")
    result = lab.playbook(playbook, extra_vars={"wanted": "failure"}, limit="client")
    assert result.rc == 2, result.output
    assert "wanted failure" in result.output
    assert result.recap == {"client": {"ok": 1, "changed": 0, "unreachable": 0, "failed": 1,
                                       "skipped": 0, "rescued": 0, "ignored": 0}}, result.output


def user_rtt_ms(lab, host, address):
    """The average round trip of three pings as the sender sees it (-U: a
    received packet's kernel time stamp is taken before the delay line
    holds it, so ping's own figure would leave out the delay into host)."""
    result = lab.exec(host, ["ping", "-U", "-n", "-q", "-c", "3", "-i", "0.2", "-W", "1", address])
    summary = [line for line in result.stdout.splitlines() if line.startswith("rtt ")]
    return float(summary[0].split("=")[1].split("/")[1]) if summary else None


def delaylines(lab):
    """PIDs of the lab's running delay lines, from /proc (not from its state)."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if any(part.endswith(b"delayline.py") for part in cmdline) and any(
                    ("/%s/delayline-" % lab.name).encode() in part for part in cmdline):
                found.append(int(proc.name))
    return found


def test_delay_line_delays_loses_and_follows_a_reboot(lab_factory):
    # last in this module: it reboots the client
    lab = lab_factory(LAB)
    server_link2 = lab.hostvars("server")["mptcp_lab_interfaces"]["link2"]["address"]
    server_link1 = lab.hostvars("server")["mptcp_lab_interfaces"]["link1"]["address"]
    assert user_rtt_ms(lab, "client", server_link2) < 10
    lab.delay("link2", "20ms")
    rules = subprocess.run(["nsenter", "--target=%d" % lab.hostvars("client")["ansible_nsenter_pid"], "--net", "--",
                            "iptables-save", "-t", "raw"], check=True, capture_output=True, text=True).stdout
    assert "-A PREROUTING -i link2 -j NFQUEUE --queue-num 2" in rules, rules
    rtt = user_rtt_ms(lab, "client", server_link2)
    assert 40 <= rtt < 60, rtt  # 20 ms each way
    lab.delay("link2", "30ms", hosts=["client"])  # only into the client: 20 + 30
    rtt = user_rtt_ms(lab, "client", server_link2)
    assert 50 <= rtt < 70, rtt
    lab.delay("link1", "0ms", loss="100%")
    assert user_rtt_ms(lab, "client", server_link1) is None  # every packet lost
    lab.reboot("client")
    assert user_rtt_ms(lab, "client", server_link1) is None
    rtt = user_rtt_ms(lab, "client", server_link2)
    assert 50 <= rtt < 70, rtt
    assert len(delaylines(lab)) == 2  # one per host
    lab.delay("link1", "none")
    lab.delay("link2", "none")
    assert user_rtt_ms(lab, "client", server_link1) < 10
    assert user_rtt_ms(lab, "client", server_link2) < 10
    assert delaylines(lab) == []
    for host in ("client", "server"):
        # the machine's iptables in the host's network namespace (the image has none)
        rules = subprocess.run(["nsenter", "--target=%d" % lab.hostvars(host)["ansible_nsenter_pid"], "--net", "--",
                                "iptables-save", "-t", "raw"], check=True, capture_output=True, text=True).stdout
        assert "-A PREROUTING" not in rules, rules
