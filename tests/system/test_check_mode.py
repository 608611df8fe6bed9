"""Check mode on hosts that never saw the collection, as an AWX "Check" job
template runs it: every playbook with --check --diff against a fresh lab
whose client has a default route on its first link (NetworkManager has
already made a subflow endpoint for it) and lacks pyroute2, python3-apt,
mptcpize and its library. Nothing may fail, nothing may change on either
host, and the run must say what a real run would do."""

import json

import pytest

from conftest import diff_snapshots

LAB = "sys-check"
# Every playbook of the collection, as a user runs it; apps.yml with a unit,
# since with none it has nothing to do.
PLAYBOOKS = [
    ("playbooks/enable.yml", None),
    ("playbooks/temporary.yml", None),
    ("playbooks/permanent.yml", None),
    ("playbooks/apps.yml", {"mptcp_apps_units": ["ssh.service"]}),
    ("playbooks/monitor.yml", None),
    ("playbooks/verify.yml", None),
    ("playbooks/disable.yml", None),
]
FRESH_CLIENT_LACKS = ["python3-pyroute2", "python3-apt", "mptcpize", "libmptcpwrap0"]


@pytest.fixture(scope="module")
def fresh_lab(lab_factory):
    lab = lab_factory(LAB)
    # dpkg works offline: the lab hosts have no route to any package mirror,
    # which also proves that nothing below needs one.
    lab.exec("client", ["dpkg", "--remove", "--force-depends"] + FRESH_CLIENT_LACKS, check=True)
    return lab


@pytest.mark.parametrize("playbook, extra_vars", PLAYBOOKS, ids=[path.split("/")[1] for path, _extra in PLAYBOOKS])
def test_check_mode_on_a_fresh_host_changes_nothing_and_fails_nowhere(fresh_lab, playbook, extra_vars):
    before = {host: fresh_lab.snapshot(host) for host in ("server", "client")}
    result = fresh_lab.playbook(playbook, extra_vars=extra_vars, check=True, diff=True)
    assert result.rc == 0, result.output
    assert "Traceback" not in result.output and "MODULE FAILURE" not in result.output, result.output
    for host in ("server", "client"):
        assert result.recap.get(host, {}).get("failed", 0) == 0, result.output
        changes = diff_snapshots(before[host], fresh_lab.snapshot(host))
        assert changes == [], "%s changed %s:\n%s" % (playbook, host, "\n".join(changes))


def test_check_mode_tells_what_a_real_run_would_do(fresh_lab):
    result = fresh_lab.playbook("playbooks/permanent.yml", check=True, diff=True)
    assert result.rc == 0, result.output
    # the client would get pyroute2 first; the server has it and shows the limits
    assert "Would install python3-pyroute2" in result.output
    assert result.output.count("Would install python3-pyroute2") == 1, result.output
    # the files and profiles it would write, as diffs
    assert '+    "file": "1",' in result.output, result.output
    # the plan: one additional subflow (two paired links, no laminar with NetworkManager 1.42), in ip words
    assert "+ExecStart=ip mptcp limits set add_addr_accepted 0 subflows 1" in result.output, result.output
    assert "ip mptcp endpoint add 198.51.100.1 dev link2 signal" in result.output, result.output
    assert '"signal"' in result.output and '"also-without-default-route"' in result.output, result.output
    recap = result.recap
    assert recap["client"]["changed"] > 0 and recap["server"]["changed"] > 0, result.output


def test_apps_check_mode_says_it_would_install_mptcpize(fresh_lab):
    before = fresh_lab.snapshot("client")
    result = fresh_lab.playbook("tests/system/playbooks/apps_everywhere.yml",
                                extra_vars={"mptcp_apps_units": ["ssh.service"]}, check=True, diff=True)
    assert result.rc == 0, result.output
    # only the client lacks it; a host that has it never reaches the package manager
    assert result.output.count("Would install mptcpize") == 1, result.output
    assert '+Environment="LD_PRELOAD=' in result.output, result.output
    assert diff_snapshots(before, fresh_lab.snapshot("client")) == []


def test_package_names_from_the_inventory_take_effect(fresh_lab, tmp_path):
    """The package tables are role defaults, so an inventory value (a second
    inventory for all hosts, like a user's group_vars) wins, as the roles'
    refusals tell users to set them; as role vars only -e could."""
    inventory = tmp_path / "packages.yml"
    inventory.write_text(json.dumps({"all": {"vars": {
        # Debian without pyroute2: the client, which lacks it, is refused naming what is missing
        "mptcp_packages_by_family": {"Debian": {"iproute2": "iproute2"},
                                     "RedHat": {"pyroute2": "python3-pyroute2", "iproute2": "iproute"}},
        "mptcp_apps_packages_by_family": {"Debian": ["mptcpize-from-the-inventory"]},
    }}}))
    before = fresh_lab.snapshot("client")
    refused = fresh_lab.playbook("playbooks/enable.yml", check=True, limit="client", extra_args=["-i", str(inventory)])
    assert refused.rc != 0, refused.output
    assert ("lacks pyroute2, and OS family Debian has no package names for it in mptcp_packages_by_family "
            "(families: Debian, RedHat; names for Debian: iproute2)") in refused.output, refused.output
    assert "Traceback" not in refused.output, refused.output
    apps = fresh_lab.playbook("tests/system/playbooks/apps_everywhere.yml", extra_vars={"mptcp_apps_units": ["ssh.service"]},
                              check=True, limit="client", extra_args=["-i", str(inventory)])
    assert apps.rc == 0, apps.output
    assert "Would install mptcpize-from-the-inventory" in apps.output, apps.output
    assert diff_snapshots(before, fresh_lab.snapshot("client")) == []
