"""A site playbook written from the role's README alone (its `site.yml`
block, taken from roles/mptcp/README.md as it is) gives the same endpoints,
limits and transfer as the collection's permanent.yml, on both backends:
NetworkManager (two-links) and the systemd unit on systemd-networkd hosts
(two-links-networkd). The lab's inventory has the README's variables
(mptcp_links, the groups mptcp_servers and mptcp_clients)."""

import re

import pytest

from _state import HOSTS, assert_same_state, hosts_state
from conftest import ROOT


def readme_site_playbook():
    text = (ROOT / "roles" / "mptcp" / "README.md").read_text()
    blocks = [block for block in re.findall(r"```yaml\n(.*?)```", text, re.S) if block.startswith("# site.yml\n")]
    assert len(blocks) == 1, "roles/mptcp/README.md must have one ```yaml block starting with '# site.yml'"
    return blocks[0]


@pytest.mark.parametrize("topology", ["two-links", "two-links-networkd"])
def test_the_readmes_site_playbook_is_permanent_yml(lab_factory, tmp_path, topology):
    lab = lab_factory("h20-site-" + topology.replace("two-links", "tl"), topology=topology)
    site = tmp_path / "site.yml"
    site.write_text(readme_site_playbook())

    first = lab.playbook(str(site))
    assert first.rc == 0, first.output
    from_readme = hosts_state(lab)
    assert from_readme["server"]["endpoints"], "the site playbook made no endpoint on the server"

    # permanent.yml finds nothing to change: the same endpoints, limits, sysctls, units, profiles and files
    permanent = lab.playbook("playbooks/permanent.yml")
    assert permanent.rc == 0, permanent.output
    assert all(permanent.recap[host]["changed"] == 0 for host in HOSTS), permanent.output
    assert_same_state(from_readme, hosts_state(lab), "permanent.yml after the README's site playbook changed the hosts")

    # and a transfer uses every link, shaped to one rate as links are (unshaped veths outrun the scheduler's need
    # for a second path)
    links = sorted(lab.hostvars("client")["mptcp_lab_interfaces"])
    for link in links:
        lab.shape(link, "20mbit")
    try:
        verify = lab.playbook("playbooks/verify.yml", extra_vars={"mptcp_verify_size": "4M"})
    finally:
        for link in links:
            lab.shape(link, "none")
    assert verify.rc == 0, verify.output
    assert "MPTCP used every link" in verify.output
