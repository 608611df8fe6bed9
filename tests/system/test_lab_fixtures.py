"""The fixtures the system tests stand on: a snapshot must see every kind of
change the roles can make, and nothing else (two snapshots of an untouched
host are equal)."""

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
