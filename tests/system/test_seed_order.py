"""The seed's procedures mean what the seed says, and compose (issue 20,
docs/seed-procedures.md has each playbook's contract), on real lab hosts
(NetworkManager 1.42) with real reboots:

- temporary.yml (34.3) leaves nothing that survives a reboot beyond what
  enable.yml (34.2) made: after a reboot the host is as it was after 34.2;
- run in the seed's order, a later playbook never undoes an earlier one:
  enable.yml after permanent.yml changes nothing, monitor.yml works after it
  and puts everything back, temporary.yml over it lasts until the next
  reboot, after which permanent.yml's configuration is back as it was.
"""

import pytest

from _state import HOSTS, assert_same_state, hosts_state
from conftest import diff_snapshots

ENABLE = "playbooks/enable.yml"
TEMPORARY = "playbooks/temporary.yml"
PERMANENT = "playbooks/permanent.yml"
MONITOR = "playbooks/monitor.yml"


def run(lab, playbook, **kwargs):
    result = lab.playbook(playbook, **kwargs)
    assert result.rc == 0, result.output
    return result


def reboot_all(lab):
    for host in HOSTS:
        lab.reboot(host)


@pytest.fixture(scope="module")
def order_lab(lab_factory):
    return lab_factory("h20-seed-order")


@pytest.fixture(scope="module")
def temporary_lab(lab_factory):
    return lab_factory("h20-seed-temporary")


def test_temporary_paths_are_gone_after_a_reboot(temporary_lab):
    lab = temporary_lab
    run(lab, ENABLE)
    reboot_all(lab)
    enabled = hosts_state(lab)

    # its own post_tasks assert that the plan's limits and endpoints are in effect
    run(lab, TEMPORARY)
    temporary = hosts_state(lab)
    for host in HOSTS:
        # nothing on disk: no unit, no sysctl or profile file, no profile flag changed
        assert temporary[host]["files"] == enabled[host]["files"], diff_snapshots(
            enabled[host]["files"], temporary[host]["files"], host + ".files.")
        assert temporary[host]["nm_profiles"] == enabled[host]["nm_profiles"]
        assert temporary[host]["units"] == enabled[host]["units"]
    # but the kernel has the paths: the server announces both addresses, the client takes them
    assert [endpoint["address"] for endpoint in temporary["server"]["endpoints"]
            if endpoint.get("signal")] == ["192.0.2.1", "198.51.100.1"]
    assert temporary["client"]["limits"] != enabled["client"]["limits"]

    reboot_all(lab)
    assert_same_state(enabled, hosts_state(lab), "after temporary.yml and a reboot, the hosts differ from after enable.yml")


def test_seed_order_never_undoes_an_earlier_step(order_lab):
    lab = order_lab
    run(lab, PERMANENT)
    permanent = hosts_state(lab)
    assert permanent["client"]["units"]["set_mptcp_limit.service"]["ActiveState"] == "active"

    # 34.2 after 34.4: MPTCP is already on, nothing else is enable.yml's
    again = run(lab, ENABLE)
    assert all(again.recap[host]["changed"] == 0 for host in HOSTS), again.output
    assert_same_state(permanent, hosts_state(lab), "enable.yml after permanent.yml changed the hosts")

    # 34.5 after 34.4: the client's endpoints step aside and come back, the limits too
    monitored = run(lab, MONITOR)
    assert "SF_ESTABLISHED" in monitored.output
    assert_same_state(permanent, hosts_state(lab), "monitor.yml did not put everything back")

    # 34.3 over 34.4: until the next reboot only
    run(lab, TEMPORARY)
    reboot_all(lab)
    assert_same_state(permanent, hosts_state(lab), "after temporary.yml and a reboot, permanent.yml's configuration is not back")
    converged = run(lab, PERMANENT)
    assert all(converged.recap[host]["changed"] == 0 for host in HOSTS), converged.output
