"""The MPTCP state of lab hosts in a form to compare: what the collection's
playbooks leave on a host, without what differs between two equal
configurations, also across a reboot. Shared by test_seed_order.py and
test_site_playbook.py; the fault suite has its own, stricter about the
kernel's implicit endpoints (_fault_support.state)."""

from conftest import diff_snapshots

HOSTS = ("server", "client")


def hosts_state(lab, hosts=HOSTS):
    """{host: snapshot} of conftest's Lab.snapshot, where kernel endpoint ids
    (numbered in the order NetworkManager brings the links up) and the
    package database (monitor.yml may install mptcpize) are left out, and
    profiles are known by name (NetworkManager makes the loopback's anew,
    with a new UUID, at every boot; a host without NetworkManager keeps its
    nmcli_error)."""
    result = {}
    for host in hosts:
        snapshot = lab.snapshot(host)
        snapshot.pop("dpkg_status_sha256")
        if "nmcli_error" not in snapshot["nm_profiles"]:
            snapshot["nm_profiles"] = dict((profile["id"], profile) for profile in snapshot["nm_profiles"].values())
        snapshot["endpoints"] = sorted((dict((key, value) for key, value in endpoint.items() if key != "id")
                                        for endpoint in snapshot["endpoints"]), key=lambda e: e["address"])
        result[host] = snapshot
    return result


def assert_same_state(before, after, what):
    """Two hosts_state() results are equal; else fail with one line per difference."""
    differences = [line for host in sorted(before) for line in diff_snapshots(before[host], after[host], host + ".")]
    assert not differences, "%s:\n%s" % (what, "\n".join(differences))
