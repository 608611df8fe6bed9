"""The lab tool's pure logic: topology files, NetworkManager profiles, the
inventory's links and the readiness check of a link end. No host needed:
`run` (the one place the lab starts processes) is replaced where a test
needs what `ip -j` prints.

    .venv/bin/pytest -q tests/lab/tests
"""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mptcp_lab import cli, hostfiles, lab as lab_mod, topology  # noqa: E402
from mptcp_lab.util import LabError  # noqa: E402


def write(tmp_path, text):
    path = tmp_path / "topo.yml"
    path.write_text(text)
    return str(path)


TWO_HOSTS = "hosts: {server: {groups: [servers]}, client: {groups: [clients]}}\n"


@pytest.mark.parametrize("name", ["two-links", "three-links", "dual-stack", "two-links-networkd"])
def test_shipped_topologies_load_with_a_client_default_route(name):
    topo = topology.load(name)
    assert topo["default_route"] is True
    first = next(iter(topo["links"].values()))
    server = first["server"]
    assert first["client"]["gateways"] == topology.first_per_family(server)
    # only the client's first link has gateways
    others = [end for ends in topo["links"].values() for host, end in ends.items()
              if end is not first["client"]]
    assert all("gateways" not in end for end in others)


def test_dual_stack_ends_list_every_address_with_the_first_on_top():
    topo = topology.load("dual-stack")
    end = topo["links"]["link1"]["client"]
    assert (end["address"], end["cidr"], end["family"]) == ("192.0.2.2", "192.0.2.2/24", 4)
    assert [a["cidr"] for a in end["addresses"]] == ["192.0.2.2/24", "2001:db8:1::2/64"]
    assert end["gateways"] == ["192.0.2.1", "2001:db8:1::1"]


def test_default_route_false_gives_no_gateway(tmp_path):
    topo = topology.load(write(tmp_path, TWO_HOSTS + "default_route: false\n"
                               "links: {l1: {server: 10.0.0.1/24, client: 10.0.0.2/24}}\n"))
    assert all("gateways" not in end for end in topo["links"]["l1"].values())


@pytest.mark.parametrize("links, message", [
    ("{l1: {server: 10.0.0.1/24, nobody: 10.0.0.2/24}}", "link l1 names unknown host nobody"),
    ("{l1: {server: 10.0.0.1/24}}", "link l1 must join exactly two hosts"),
    ("{l1: {server: 10.0.0.1, client: 10.0.0.2/24}}", "host server: '10.0.0.1' is not an address with a prefix"),
    ("{l1: {server: 10.0.0.300/24, client: 10.0.0.2/24}}", "host server: '10.0.0.300/24'"),
    ("{l1: {server: 10.0.0.0/24, client: 10.0.0.2/24}}", "'10.0.0.0/24' is a network"),
    ("{l1: {server: [], client: 10.0.0.2/24}}", "host server: no address"),
    ("{l1: {server: [10.0.0.1/24, 10.0.0.1/24], client: 10.0.0.2/24}}", "an address is listed twice"),
    ("{l1: {server: 10.0.0.1/24, client: 10.0.1.2/24}}", "server's 10.0.0.1/24 has no peer address in 10.0.0.0/24"),
    ("{l1: {server: [10.0.0.1/24, 'fd00::1/64'], client: 10.0.0.2/24}}", "server's fd00::1/64 has no peer address"),
    ("{Link1: {server: 10.0.0.1/24, client: 10.0.0.2/24}}", "bad name 'Link1'"),
])
def test_bad_topologies_are_refused_naming_the_value(tmp_path, links, message):
    with pytest.raises(LabError) as error:
        topology.load(write(tmp_path, TWO_HOSTS + f"links: {links}\n"))
    assert message in str(error.value)


@pytest.mark.parametrize("extra, message", [
    ("default_route: sometimes\n", "default_route must be true or false, not 'sometimes'"),
    ("defaultroute: false\n", "unknown key(s) defaultroute"),
])
def test_bad_top_level_keys_are_refused(tmp_path, extra, message):
    with pytest.raises(LabError) as error:
        topology.load(write(tmp_path, TWO_HOSTS + extra
                            + "links: {l1: {server: 10.0.0.1/24, client: 10.0.0.2/24}}\n"))
    assert message in str(error.value)


def test_no_topology_file():
    with pytest.raises(LabError, match="no topology file"):
        topology.load("no-such-topology")


def profile_sections(text):
    sections, current = {}, None
    for line in text.splitlines():
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), [])
        elif line and current is not None:
            current.append(line)
    return sections


def test_profiles_carry_gateways_only_on_the_clients_first_link():
    topo = topology.load("dual-stack")
    client = hostfiles.host_files("lab", topo, "client")
    server = hostfiles.host_files("lab", topo, "server")
    path = "/etc/NetworkManager/system-connections/{}.nmconnection"
    link1 = profile_sections(client[path.format("link1")][0])
    assert link1["ipv4"] == ["method=manual", "address1=192.0.2.2/24", "gateway=192.0.2.1"]
    assert link1["ipv6"] == ["method=manual", "address1=2001:db8:1::2/64", "gateway=2001:db8:1::1"]
    link2 = profile_sections(client[path.format("link2")][0])
    assert link2["ipv4"] == ["method=manual", "address1=198.51.100.2/24", "never-default=true"]
    assert link2["ipv6"] == ["method=manual", "address1=2001:db8:2::2/64", "never-default=true"]
    for link in ("link1", "link2"):
        assert "never-default=true" in profile_sections(server[path.format(link)][0])["ipv4"]
        assert not any(line.startswith("gateway=") for line in server[path.format(link)][0].splitlines())
        assert client[path.format(link)][1] == 0o600


def test_ipv4_only_link_keeps_ipv6_disabled():
    topo = topology.load("two-links")
    files = hostfiles.host_files("lab", topo, "client")
    link1 = profile_sections(files["/etc/NetworkManager/system-connections/link1.nmconnection"][0])
    assert link1["ipv6"] == ["method=disabled"]
    assert "mptcp-flags" not in "".join(link1["connection"])


def test_state_from_before_lists_the_one_address():
    old_end = {"ifname": "link1", "address": "192.0.2.1", "prefix": 24, "cidr": "192.0.2.1/24", "family": 4}
    assert topology.end_addresses(old_end) == [
        {"address": "192.0.2.1", "prefix": 24, "cidr": "192.0.2.1/24", "family": 4}]


class FakeBackend:
    name = "nspawn"

    def __init__(self, lab):
        self.lab = lab

    def net_argv(self, host, runtime, argv):
        return argv

    def host_inventory(self, host, runtime):
        return {"ansible_connection": "fake"}


def make_lab(tmp_path, monkeypatch, topology_name):
    monkeypatch.setitem(lab_mod.BACKENDS, "nspawn", FakeBackend)
    lab = lab_mod.Lab("t", state_dir=tmp_path)
    topo = topology.load(topology_name)
    lab.state = {"backend": "nspawn", "topology": topo, "hosts": {h: {} for h in topo["hosts"]},
                 "links": {link: {"up": True, "rate": None} for link in topo["links"]}}
    return lab


def test_inventory_links_have_address_and_addresses(tmp_path, monkeypatch):
    lab = make_lab(tmp_path, monkeypatch, "dual-stack")
    hosts = lab.inventory()["all"]["hosts"]
    assert hosts["client"]["mptcp_links"] == [
        {"interface": "link1", "address": "192.0.2.2", "addresses": ["192.0.2.2", "2001:db8:1::2"]},
        {"interface": "link2", "address": "198.51.100.2", "addresses": ["198.51.100.2", "2001:db8:2::2"]},
    ]
    assert hosts["client"]["mptcp_lab_interfaces"]["link1"]["gateways"] == ["192.0.2.1", "2001:db8:1::1"]
    assert hosts["server"]["mptcp_lab_interfaces"]["link1"]["gateways"] == []
    assert hosts["server"]["mptcp_lab_interfaces"]["link2"]["peer_addresses"] == ["198.51.100.2", "2001:db8:2::2"]
    two = make_lab(tmp_path, monkeypatch, "two-links").inventory()["all"]["hosts"]
    assert two["server"]["mptcp_links"][1] == {"interface": "link2", "address": "198.51.100.1",
                                               "addresses": ["198.51.100.1"]}


def fake_ip(monkeypatch, addresses, routes=()):
    """Make `ip -j ...` print addresses (addr_info entries) and default routes."""
    def run(argv, check=True, capture=False, **_kwargs):
        argv = [str(a) for a in argv]
        if "address" in argv:
            return json.dumps([{"ifname": argv[-1], "addr_info": addresses}])
        family = 6 if "-6" in argv else 4
        return json.dumps([r for r in routes if (":" in r["gateway"]) == (family == 6)])
    monkeypatch.setattr(lab_mod, "run", run)


CLIENT_LINK1 = [{"family": "inet", "local": "192.0.2.2", "prefixlen": 24},
                {"family": "inet6", "local": "2001:db8:1::2", "prefixlen": 64}]
DEFAULTS = [{"dst": "default", "gateway": "192.0.2.1", "dev": "link1"},
            {"dst": "default", "gateway": "2001:db8:1::1", "dev": "link1"}]


def test_end_is_ready_with_every_address_and_its_default_routes(tmp_path, monkeypatch):
    lab = make_lab(tmp_path, monkeypatch, "dual-stack")
    end = lab.topo["links"]["link1"]["client"]
    fake_ip(monkeypatch, CLIENT_LINK1, DEFAULTS)
    assert lab._end_ready("client", {}, end) is True
    fake_ip(monkeypatch, CLIENT_LINK1[:1], DEFAULTS)
    assert lab._end_ready("client", {}, end) is False
    fake_ip(monkeypatch, CLIENT_LINK1, DEFAULTS[:1])
    assert lab._end_ready("client", {}, end) is False


def test_a_tentative_ipv6_address_is_not_ready_and_a_failed_one_is_an_error(tmp_path, monkeypatch):
    lab = make_lab(tmp_path, monkeypatch, "dual-stack")
    end = lab.topo["links"]["link1"]["client"]
    fake_ip(monkeypatch, [CLIENT_LINK1[0], dict(CLIENT_LINK1[1], tentative=True)], DEFAULTS)
    assert lab._end_ready("client", {}, end) is False
    fake_ip(monkeypatch, [CLIENT_LINK1[0], dict(CLIENT_LINK1[1], tentative=True, dadfailed=True)], DEFAULTS)
    with pytest.raises(LabError, match="2001:db8:1::2 failed duplicate address detection"):
        lab._end_ready("client", {}, end)


def test_status_counts_a_zombie_as_dead(tmp_path, monkeypatch):
    lab = make_lab(tmp_path, monkeypatch, "two-links")
    lab.state["image_dir"] = "/nowhere"
    lab.state["hosts"] = {"server": {"nspawn_pid": 1}, "client": {"nspawn_pid": 2}}
    monkeypatch.setattr(lab_mod, "pid_alive", lambda pid: pid == 1)
    status = lab.status().splitlines()
    assert "  host server: running (nspawn_pid=1)" in status
    assert "  host client: DEAD (nspawn_pid=2)" in status


@pytest.mark.parametrize("name, good", [("molecule-default", True), ("h1-dual-stack", True),
                                        ("h1-dual_stack", False), ("-x", False), ("a" * 41, False)])
def test_lab_names_must_be_host_names(name, good):
    assert bool(cli.LAB_NAME_RE.match(name)) is good


def test_cli_turns_lab_errors_into_one_line_and_status_1(monkeypatch, capsys):
    monkeypatch.setattr(cli.os, "geteuid", lambda: 0)
    assert cli.main(["--lab", "h1_bad", "status"]) == 1
    assert capsys.readouterr().err == (
        "mptcp-lab: error: bad lab name 'h1_bad': letters, digits and '-', at most 40\n")


@pytest.mark.parametrize("before, after", [("128\n", "1024\n"), ("1024\n", "1024\n"), ("8192\n", "8192\n")])
def test_inotify_instances_are_raised_to_1024_never_lowered(tmp_path, monkeypatch, before, after):
    knob = tmp_path / "max_user_instances"
    knob.write_text(before)
    monkeypatch.setattr(lab_mod, "INOTIFY_INSTANCES", knob)
    lab_mod.ensure_inotify_instances()
    assert knob.read_text() == after


# -- hosts without NetworkManager (network: networkd) ------------------------------------

def test_networkd_topology_gives_network_files_and_masks_network_manager(tmp_path):
    topo = topology.load("two-links-networkd")
    assert topo["network"] == "networkd" and topology.load("two-links")["network"] == "networkmanager"
    client = hostfiles.host_files("lab", topo, "client")
    server = hostfiles.host_files("lab", topo, "server")
    assert not any(path.startswith("/etc/NetworkManager/") for path in [*client, *server])
    assert client["/etc/systemd/network/10-link1.network"] == (
        "[Match]\nName=link1\n\n[Network]\nDHCP=no\nIPv6AcceptRA=no\nAddress=192.0.2.2/24\nGateway=192.0.2.1\n", 0o644)
    # only a client's first link has the default route
    assert "Gateway=" not in client["/etc/systemd/network/10-link2.network"][0]
    assert "Gateway=" not in server["/etc/systemd/network/10-link1.network"][0]
    assert client["/etc/systemd/system/NetworkManager.service"] == ("/dev/null", None)
    assert client["/etc/systemd/system/multi-user.target.wants/systemd-networkd.service"] == (
        "/lib/systemd/system/systemd-networkd.service", None)
    # written as the symlinks systemctl enable/mask would make, over what an earlier up left
    hostfiles.write_tree(tmp_path, client)
    hostfiles.write_tree(tmp_path, client)
    assert str((tmp_path / "etc/systemd/system/NetworkManager.service").readlink()) == "/dev/null"
    assert (tmp_path / "etc/systemd/network/10-link2.network").read_text().startswith("[Match]\nName=link2\n")


def test_networkd_dual_stack_file_lists_every_address_and_gateway(tmp_path):
    text = hostfiles.networkd_file("link1", topology.parse_addresses("x", ["192.0.2.2/24", "2001:db8:1::2/64"]),
                                   ["192.0.2.1", "2001:db8:1::1"])
    assert text.splitlines()[-4:] == ["Address=192.0.2.2/24", "Address=2001:db8:1::2/64",
                                      "Gateway=192.0.2.1", "Gateway=2001:db8:1::1"]


def test_unknown_network_is_refused_naming_the_value(tmp_path):
    path = write(tmp_path, TWO_HOSTS + "network: ifupdown\nlinks: {l1: {server: 10.0.0.1/24, client: 10.0.0.2/24}}\n")
    with pytest.raises(LabError, match="network must be one of networkmanager, networkd, not 'ifupdown'"):
        topology.load(path)


def test_networkd_topology_is_for_nspawn_hosts_only(tmp_path):
    lab = lab_mod.Lab("nd-unit", state_dir=tmp_path / "state")
    with pytest.raises(LabError, match="network networkd is for nspawn hosts only"):
        lab.up("two-links-networkd", backend="qemu")


def test_inventory_names_what_configures_the_addresses(tmp_path, monkeypatch):
    assert make_lab(tmp_path, monkeypatch, "two-links-networkd").inventory()["all"]["vars"]["mptcp_lab_network"] \
        == "networkd"
    assert make_lab(tmp_path, monkeypatch, "two-links").inventory()["all"]["vars"]["mptcp_lab_network"] \
        == "networkmanager"


# -- routers, several uplinks, shared segments -------------------------------------------

def test_router_topology_forwards_and_gives_the_client_two_ranked_uplinks(tmp_path, monkeypatch):
    topo = topology.load("router")
    client = topo["links"]["link1"]["client"], topo["links"]["link2"]["client"]
    assert [(end["gateways"], end["metric"]) for end in client] == [(["10.1.1.1"], 100), (["10.1.2.1"], 101)]
    # one default route: no metric, as before
    assert topo["links"]["link3"]["server"]["gateways"] == ["192.0.2.254"]
    assert "metric" not in topo["links"]["link3"]["server"]
    # the router needs no default route: every subnet is on one of its links
    assert not any("gateways" in ends["router"] for ends in topo["links"].values())
    router = hostfiles.host_files("lab", topo, "router")
    assert router[hostfiles.FORWARD_SYSCTL[0]] == (
        "# mptcp-lab: this host is a router (forward: true)\n"
        "net.ipv4.ip_forward = 1\nnet.ipv6.conf.all.forwarding = 1\n", 0o644)
    assert hostfiles.FORWARD_SYSCTL[0] not in hostfiles.host_files("lab", topo, "client")
    profiles = hostfiles.host_files("lab", topo, "client")
    link2 = profile_sections(profiles["/etc/NetworkManager/system-connections/link2.nmconnection"][0])
    assert link2["ipv4"] == ["method=manual", "address1=10.1.2.2/24", "gateway=10.1.2.1", "route-metric=101"]
    hosts = make_lab(tmp_path, monkeypatch, "router").inventory()["all"]
    # the router is in no MPTCP group and has no mptcp_links: the mptcp role never configures it
    assert "mptcp_links" not in hosts["hosts"]["router"]
    assert [link["interface"] for link in hosts["hosts"]["client"]["mptcp_links"]] == ["link1", "link2"]
    assert hosts["children"]["routers"]["hosts"] == {"router": None}
    assert hosts["hosts"]["client"]["mptcp_lab_interfaces"]["link2"]["gateways"] == ["10.1.2.1"]


def test_several_default_routes_on_networkd_are_route_sections_with_metrics():
    text = hostfiles.networkd_file("link2", topology.parse_addresses("x", "10.1.2.2/24"), ["10.1.2.1"], 101)
    assert text.endswith("Address=10.1.2.2/24\n\n[Route]\nGateway=10.1.2.1\nMetric=101\n")
    assert "Gateway=" not in text.split("[Route]", maxsplit=1)[0]


def test_one_subnet_segment_joins_two_client_interfaces_and_the_server(tmp_path, monkeypatch):
    topo = topology.load("one-subnet")
    assert topo["segments"] == {"lan": ["link1", "link2"]}
    assert topology.segment_of(topo, "link2") == "lan" and topology.segment_of(topology.load("two-links"), "link1") is None
    # the client's link2 has no end of the server, its peer on the segment is the server
    assert [(host, end["address"]) for host, end in topology.peers(topo, "link2", "client")] == [("server", "192.0.2.1")]
    hosts = make_lab(tmp_path, monkeypatch, "one-subnet").inventory()["all"]["hosts"]
    assert hosts["client"]["mptcp_links"] == [
        {"interface": "link1", "address": "192.0.2.2", "addresses": ["192.0.2.2"]},
        {"interface": "link2", "address": "192.0.2.3", "addresses": ["192.0.2.3"]}]
    assert hosts["client"]["mptcp_lab_interfaces"]["link2"]["peer_address"] == "192.0.2.1"
    assert all("gateways" not in end for ends in topo["links"].values() for end in ends.values())


class FakeSwitchBackend(FakeBackend):
    """Records the veth pairs and bridge ports a plug makes."""
    plugged = []

    def plug(self, link, ends):
        self.plugged.append(("pair", link, [host for host, *_rest in ends]))

    def plug_port(self, end, runtime, mac, switch, bridge, port):
        self.plugged.append(("port", end["ifname"], bridge, port, switch["switch_pid"]))


def test_a_segment_link_plugs_each_end_into_the_bridge_and_a_reboot_only_its_host(tmp_path, monkeypatch):
    lab = make_lab(tmp_path, monkeypatch, "one-subnet")
    monkeypatch.setitem(lab_mod.BACKENDS, "nspawn", FakeSwitchBackend)
    FakeSwitchBackend.plugged = []
    lab.state["switches"] = {"lan": {"switch_pid": 42}}
    lab.plug("link1")
    lab.plug("link2")
    assert FakeSwitchBackend.plugged == [("port", "link1", "lan", "p1-1", 42), ("port", "link1", "lan", "p2-1", 42),
                                         ("port", "link2", "lan", "p2-2", 42)]
    FakeSwitchBackend.plugged = []
    lab.plug("link1", only="server")
    assert FakeSwitchBackend.plugged == [("port", "link1", "lan", "p1-1", 42)]
    two = make_lab(tmp_path, monkeypatch, "two-links")
    monkeypatch.setitem(lab_mod.BACKENDS, "nspawn", FakeSwitchBackend)
    FakeSwitchBackend.plugged = []
    two.plug("link1")
    assert FakeSwitchBackend.plugged == [("pair", "link1", ["server", "client"])]


def test_shared_links_put_two_servers_and_three_clients_on_two_segments(tmp_path, monkeypatch):
    topo = topology.load("shared-links")
    assert topo["segments"] == {"sega": ["link1"], "segb": ["link2"]}
    # one link per segment with an end on every host: each host's peer there is the first other host (s1, for s1 s2)
    assert [(host, end["address"]) for host, end in topology.peers(topo, "link2", "c2")] == [
        ("s1", "10.1.2.1"), ("s2", "10.1.2.2"), ("c1", "10.1.2.11"), ("c3", "10.1.2.13")]
    lab = make_lab(tmp_path, monkeypatch, "shared-links")
    inventory = lab.inventory()["all"]
    assert list(inventory["children"]["mptcp_servers"]["hosts"]) == ["s1", "s2"]
    assert list(inventory["children"]["mptcp_clients"]["hosts"]) == ["c1", "c2", "c3"]
    assert inventory["hosts"]["c3"]["mptcp_links"] == [
        {"interface": "link1", "address": "10.1.1.13", "addresses": ["10.1.1.13"]},
        {"interface": "link2", "address": "10.1.2.13", "addresses": ["10.1.2.13"]}]
    assert inventory["hosts"]["s1"]["mptcp_lab_interfaces"]["link2"]["peer"] == "s2"
    # no router on the segments: no default route anywhere
    assert all("gateways" not in end for ends in topo["links"].values() for end in ends.values())
    # each segment's bridge gets one port per host, from that host's interface of the segment's link
    monkeypatch.setitem(lab_mod.BACKENDS, "nspawn", FakeSwitchBackend)
    FakeSwitchBackend.plugged = []
    lab.state["switches"] = {"sega": {"switch_pid": 41}, "segb": {"switch_pid": 42}}
    lab.plug("link1")
    lab.plug("link2")
    assert FakeSwitchBackend.plugged == [("port", "link1", "sega", "p%d-1" % host, 41) for host in range(1, 6)] + [
        ("port", "link2", "segb", "p%d-2" % host, 42) for host in range(1, 6)]


def test_segments_are_for_nspawn_hosts_only(tmp_path):
    lab = lab_mod.Lab("seg-unit", state_dir=tmp_path / "state")
    with pytest.raises(LabError, match=r"segments \(lan\) are for nspawn hosts only"):
        lab.up("one-subnet", backend="qemu")


SEGMENT_LINKS = "links: {l1: {server: 10.0.0.1/24, client: 10.0.0.2/24}, l2: {client: 10.0.0.3/24}}\n"


@pytest.mark.parametrize("text, message", [
    (TWO_HOSTS + SEGMENT_LINKS, "link l2 must join exactly two hosts (or be in a segment)"),
    (TWO_HOSTS + SEGMENT_LINKS + "segments: {lan: [l1, l3]}\n", "segment lan names unknown link 'l3'"),
    (TWO_HOSTS + SEGMENT_LINKS + "segments: {lan: [l1, l2], wan: [l2]}\n", "link l2 is in segments lan and wan"),
    (TWO_HOSTS + SEGMENT_LINKS + "segments: {l1: [l1, l2]}\n", "bad segment name 'l1'"),
    (TWO_HOSTS + SEGMENT_LINKS + "segments: {lan: []}\n", "segment lan must list its links, not []"),
    (TWO_HOSTS + SEGMENT_LINKS + "segments: [l1, l2]\n", "segments must map a name to a list of links"),
    (TWO_HOSTS + "links: {l1: {server: 10.0.0.1/24, client: 10.0.0.2/24}, l2: {client: 10.0.1.3/24}}\n"
     "segments: {lan: [l1, l2]}\n", "link l2 (segment lan): client's 10.0.1.3/24 has no peer address in 10.0.1.0/24"),
    ("hosts: {server: {groups: [servers]}, client: {groups: [clients], default_routes: [l2]}}\n"
     "links: {l1: {server: 10.0.0.1/24, client: 10.0.0.2/24}}\n",
     "host client: default_routes names 'l2', which is not one of its links"),
    ("hosts: {server: {groups: [servers]}, client: {groups: [clients], default_routes: l1}}\n"
     "links: {l1: {server: 10.0.0.1/24, client: 10.0.0.2/24}}\n",
     "host client: default_routes must be a list of its links, not 'l1'"),
    ("hosts: {server: {groups: [servers]}, client: {groups: [clients], default_routes: [l1, l1]}}\n"
     "links: {l1: {server: 10.0.0.1/24, client: 10.0.0.2/24}}\n", "host client: default_routes lists a link twice"),
    ("hosts: {server: {groups: [servers], forward: yes please}, client: {groups: [clients]}}\n"
     "links: {l1: {server: 10.0.0.1/24, client: 10.0.0.2/24}}\n",
     "host server: forward must be true or false, not 'yes please'"),
    ("hosts: {server: {groups: [servers], router: true}, client: {groups: [clients]}}\n"
     "links: {l1: {server: 10.0.0.1/24, client: 10.0.0.2/24}}\n", "host server: unknown key(s) router"),
    ("hosts: {server: {groups: servers}, client: {groups: [clients]}}\n"
     "links: {l1: {server: 10.0.0.1/24, client: 10.0.0.2/24}}\n", "host server: groups must be a list, not 'servers'"),
])
def test_bad_hosts_and_segments_are_refused_naming_the_value(tmp_path, text, message):
    with pytest.raises(LabError) as error:
        topology.load(write(tmp_path, text))
    assert message in str(error.value)


def test_router_with_a_two_homed_server_ranks_both_hosts_uplinks():
    topo = topology.load("router-two-homed")
    ranked = {host: [(link, end["gateways"], end["metric"]) for link, ends in topo["links"].items()
                     for name, end in ends.items() if name == host and "gateways" in end] for host in ("client", "server")}
    assert ranked == {"client": [("link1", ["10.1.1.1"], 100), ("link2", ["10.1.2.1"], 101)],
                      "server": [("link3", ["192.0.2.254"], 100), ("link4", ["198.51.100.254"], 101)]}


def test_shape_with_hosts_limits_only_their_ends_of_a_segment_link_and_plug_keeps_it(tmp_path, monkeypatch):
    lab = make_lab(tmp_path, monkeypatch, "shared-links")
    lab.runtime = lambda host: {"leader_pid": 1}
    lab.mac = lambda host, index: "02:00:00:00:00:01"
    calls = []
    monkeypatch.setattr(lab_mod, "run", lambda argv, check=True: calls.append(list(argv)))
    lab.shape("link1", "10mbit", hosts=["c1"])
    # one tbf, on c1's end only: the other four hosts' ends of the segment stay unshaped
    assert calls == [["tc", "qdisc", "replace", "dev", "link1", "root", "tbf", "rate", "10mbit",
                      "burst", "16384", "latency", "100ms"]]
    assert lab.state["links"]["link1"] == {"up": True, "rate": None, "host_rates": {"c1": "10mbit"}}
    # a host's end plugged again (a reboot) gets its rate back; another host's does not
    monkeypatch.setitem(lab_mod.BACKENDS, "nspawn", FakeSwitchBackend)
    lab.state["switches"] = {"sega": {"switch_pid": 41}, "segb": {"switch_pid": 42}}
    calls.clear()
    lab.plug("link1", only="c2")
    assert calls == []
    lab.plug("link1", only="c1")
    assert [argv[:4] for argv in calls] == [["tc", "qdisc", "replace", "dev"]]
    calls.clear()
    lab.shape("link1", "none", hosts=["c1"])
    assert calls == [["tc", "qdisc", "del", "dev", "link1", "root"]]
    assert lab.state["links"]["link1"]["host_rates"] == {}
    with pytest.raises(LabError, match="link link1 has no end on router"):
        lab.shape("link1", "10mbit", hosts=["router"])
