# -*- coding: utf-8 -*-
"""The planner's table: per topology, each host's endpoints, flags and
limits, each row with the reason (docs/plan.md has the lab's figures)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ipaddress

import pytest

from ansible_collections.mptcp.multipath.plugins.module_utils._common import MptcpError
from ansible_collections.mptcp.multipath.plugins.module_utils._plan import check_host, describe, plan, with_limits


def host(name, side, *links, **extra):
    """links: (interface, [addresses]) or (interface, [addresses], 'backup'); laminar unless told otherwise;
    each address's network is its /24 (IPv4) or /64 (IPv6), as mptcp_preflight reads them."""
    def networks(addresses):
        return [str(ipaddress.ip_interface(address + ("/64" if ":" in address else "/24")).network)
                for address in addresses]
    result = {"name": name, "side": side, "laminar": True,
              "links": [{"interface": link[0], "addresses": list(link[1]), "networks": networks(link[1]),
                         "backup": "backup" in link[2:]} for link in links]}
    result.update(extra)
    return result


def paired(count, families=("ipv4",), backup=(), laminar=True):
    def addresses(index, end):
        result = []
        if "ipv4" in families:
            result.append("10.0.%d.%d" % (index, end))
        if "ipv6" in families:
            result.append("2001:db8:%d::%d" % (index, end))
        return result

    def links(end):
        return [("link%d" % index, addresses(index, end)) + (("backup",) if index in backup else ())
                for index in range(1, count + 1)]
    return [host("server", "server", *links(1), laminar=laminar),
            host("client", "client", *links(2), laminar=laminar)]


def endpoints(result):
    return [(endpoint["address"], endpoint["interface"], endpoint["flags"]) for endpoint in result["endpoints"]]


def limits(result):
    return (result["limits"]["subflows"], result["limits"]["add_addr_accepted"])


# tests/lab/topologies/shared-links.yml: two servers and three clients, each with one interface on each of two
# segments (link1 10.1.1.0/24, link2 10.1.2.0/24); Debian 12's NetworkManager 1.42 cannot set laminar
SHARED_LINKS = [host(name, side, ("link1", ["10.1.1.%d" % end]), ("link2", ["10.1.2.%d" % end]), laminar=False)
                for name, side, end in [("s1", "server", 1), ("s2", "server", 2), ("c1", "client", 11),
                                        ("c2", "client", 12), ("c3", "client", 13)]]
SERVER_TWO = [("10.0.1.1", "link1", ["signal"]), ("10.0.2.1", "link2", ["signal"])]
# (id, hosts, options, {host: (endpoints, (subflows, add_addr_accepted), strategy)}, why)
TABLE = [
    ("2-paired-laminar", paired(2), {}, {
        "server": (SERVER_TWO, (1, 0), None),
        "client": ([("10.0.1.2", "link1", ["laminar"]), ("10.0.2.2", "link2", ["laminar"])], (1, 1), "announce"),
    }, "the server announces link2's address; the client's laminar endpoint on link2 takes it: one subflow each"),
    ("2-paired-no-laminar", paired(2, laminar=False), {}, {
        "server": (SERVER_TWO, (1, 0), None),
        "client": ([], (1, 1), "routing"),
    }, "no laminar (kernel < 6.18, NetworkManager < 1.56): no client endpoints, the announcement is taken and the "
       "routing table sends its subflow over link2; subflow endpoints would all join link1's address, and the "
       "connection would lose every subflow with link1 (measured)"),
    ("3-paired", paired(3), {}, {
        "server": (SERVER_TWO + [("10.0.3.1", "link3", ["signal"])], (2, 0), None),
        "client": ([("10.0.%d.2" % i, "link%d" % i, ["laminar"]) for i in (1, 2, 3)], (2, 2), "announce"),
    }, "two announcements (the address in use is not announced), two additional subflows"),
    ("10+3 (rates do not change the plan)", paired(2), {}, {
        "client": ([("10.0.1.2", "link1", ["laminar"]), ("10.0.2.2", "link2", ["laminar"])], (1, 1), "announce"),
    }, "same as 2 paired links: one subflow per link lets the scheduler use both"),
    ("dual-stack-2", paired(2, ("ipv4", "ipv6")), {}, {
        "server": ([("10.0.1.1", "link1", ["signal"]), ("2001:db8:1::1", "link1", ["signal"]),
                    ("10.0.2.1", "link2", ["signal"]), ("2001:db8:2::1", "link2", ["signal"])], (3, 0), None),
        "client": ([], (3, 3), "routing"),
    }, "one address per link and family; an IPv6 connection takes the IPv4 announcements too and an IPv6 "
       "subflow endpoint cannot reach the first link's address over link2 (both measured): the client takes "
       "all three announcements and the routing table picks the source of each"),
    ("backup-link", paired(2, backup=(2,)), {}, {
        "server": ([("10.0.1.1", "link1", ["signal"]), ("10.0.2.1", "link2", ["signal", "backup"])], (1, 0), None),
        "client": ([("10.0.1.2", "link1", ["laminar"]), ("10.0.2.2", "link2", ["laminar", "backup"])], (1, 1),
                   "announce"),
    }, "backup on both ends of link2: neither side sends there while link1 works"),
    ("single-homed-server", [host("server", "server", ("eth0", ["203.0.113.1"])),
                             host("client", "client", ("wan1", ["192.0.2.2"]), ("wan2", ["198.51.100.2"]))],
     {}, {
         "server": ([], (1, 0), None),
         "client": ([("192.0.2.2", "wan1", ["subflow"]), ("198.51.100.2", "wan2", ["subflow"])], (1, 0), "subflow"),
    }, "nothing to announce: the client opens a subflow from each uplink; the server accepts one join"),
    ("client-two-links-one-subnet (seed 34.5)", [host("server", "server", ("enp1s0", ["192.0.2.1"])),
                                                 host("client", "client", ("enp4s0f0", ["192.0.2.2"]),
                                                      ("wlp1s0", ["192.0.2.3"]))],
     {}, {
         "client": ([("192.0.2.2", "enp4s0f0", ["subflow"]), ("192.0.2.3", "wlp1s0", ["subflow"])], (1, 0),
                    "subflow"),
    }, "subflow endpoints with dev: each subflow leaves through its own interface although routing would pick one"),
    ("management-interface-kept-out", [host("server", "server", ("link1", ["10.0.1.1"]), ("link2", ["10.0.2.1"])),
                                       host("client", "client", ("link1", ["10.0.1.2"]), ("link2", ["10.0.2.2"]),
                                            excluded=["mgmt0"])],
     {}, {
         "client": ([("10.0.1.2", "link1", ["laminar"]), ("10.0.2.2", "link2", ["laminar"])], (1, 1), "announce"),
    }, "mgmt0 is not a link: no endpoint there, and NetworkManager gets `disabled` for it"),
    ("2-servers-4-clients", [host("server%d" % s, "server", ("link1", ["10.0.1.%d" % s]), ("link2", ["10.0.2.%d" % s]))
                             for s in (1, 2)] +
     [host("client%d" % c, "client", ("link1", ["10.0.1.1%d" % c]), ("link2", ["10.0.2.1%d" % c]))
      for c in (1, 2, 3, 4)],
     {}, {
         "server1": ([("10.0.1.1", "link1", ["signal"]), ("10.0.2.1", "link2", ["signal"])], (1, 0), None),
         "client3": ([("10.0.1.13", "link1", ["laminar"]), ("10.0.2.13", "link2", ["laminar"])], (1, 1), "announce"),
    }, "limits are per connection: four clients need no more than one"),
    ("2-servers-3-clients-no-laminar (lab shared-links)", SHARED_LINKS, {}, {
        "s1": ([("10.1.1.1", "link1", ["signal"]), ("10.1.2.1", "link2", ["signal"])], (1, 0), None),
        "s2": ([("10.1.1.2", "link1", ["signal"]), ("10.1.2.2", "link2", ["signal"])], (1, 0), None),
        "c2": ([], (1, 1), "routing"),
    }, "the lab's two segments without laminar (NetworkManager 1.42): each client takes the announcement of the "
       "server it connected to, and the routing table sends its subflow over link2 (measured: one subflow per link "
       "for every client and server, six connections at once)"),
    ("two-homed-server-behind-a-router", [
        host("server", "server", ("eth0", ["192.0.2.1"]), ("eth1", ["198.51.100.1"]), laminar=False),
        host("client", "client", ("wan1", ["10.1.1.2"]), ("wan2", ["10.1.2.2"]), laminar=False)],
     {}, {
         "server": ([("192.0.2.1", "eth0", ["signal"]), ("198.51.100.1", "eth1", ["signal"])], (1, 0), None),
         "client": ([("10.1.1.2", "wan1", ["subflow"]), ("10.1.2.2", "wan2", ["subflow"])], (1, 0), "subflow"),
    }, "no server address is on the client's networks: taking the announcements, routing sent both subflows out of "
       "wan1 (measured on the lab's router-two-homed); subflow endpoints with dev use each uplink"),
    ("paired-links-with-networks", [
        host("server", "server", ("link1", ["10.0.1.1"]), ("link2", ["10.0.2.1"]), laminar=False),
        host("client", "client", ("link1", ["10.0.1.2"]), ("link2", ["10.0.2.2"]), laminar=False)],
     {}, {
         "client": ([], (1, 1), "routing"),
    }, "the server's addresses are on the client's networks: paired links, the announcements are taken"),
    ("fullmesh", paired(2), {"topology": "fullmesh"}, {
        "server": (SERVER_TWO, (3, 0), None),
        "client": ([("10.0.1.2", "link1", ["subflow", "fullmesh"]), ("10.0.2.2", "link2", ["subflow", "fullmesh"])],
                   (3, 1), "fullmesh"),
    }, "asked for: every client address to every server address, 4 subflows"),
    ("single-link-both-sides", [host("server", "server", ("eth0", ["192.0.2.1"])),
                                host("client", "client", ("eth0", ["192.0.2.2"]))], {}, {
        "server": ([], (0, 0), None),
        "client": ([], (0, 0), "single"),
    }, "one path: MPTCP on, nothing to add"),
    ("mixed-servers", [host("big", "server", ("link1", ["10.0.1.1"]), ("link2", ["10.0.2.1"])),
                       host("small", "server", ("link1", ["10.0.1.3"])),
                       host("client", "client", ("link1", ["10.0.1.2"]), ("link2", ["10.0.2.2"]))],
     {}, {
         "client": ([("10.0.1.2", "link1", ["subflow"]), ("10.0.2.2", "link2", ["subflow"])], (1, 0), "subflow"),
    }, "one server has one address: the client opens its subflows itself and takes no announcements"),
]


@pytest.mark.parametrize("hosts, options, expected, why", [row[1:] for row in TABLE], ids=[row[0] for row in TABLE])
def test_plan_table(hosts, options, expected, why):
    assert why
    for name, (want_endpoints, want_limits, want_strategy) in expected.items():
        (me,) = [item for item in hosts if item["name"] == name]
        result = plan(me, hosts, **options)
        assert endpoints(result) == want_endpoints, name
        assert limits(result) == want_limits, name
        if want_strategy:
            assert result["strategy"] == want_strategy, name
        for endpoint in result["endpoints"]:
            assert endpoint["reason"]
        assert result["reasons"]["subflows"] and result["reasons"]["add_addr_accepted"]


def test_a_client_of_two_servers_has_a_path_over_both_links_to_each():
    (client,) = [item for item in SHARED_LINKS if item["name"] == "c3"]
    assert plan(client, SHARED_LINKS)["paths"] == [
        {"server": server, "family": "ipv4", "interfaces": ["link1", "link2"]} for server in ("s1", "s2")]
    # a server plans no path: it has no server of its own (the other server is no client of it)
    (server,) = [item for item in SHARED_LINKS if item["name"] == "s2"]
    assert plan(server, SHARED_LINKS)["paths"] == []


def test_without_laminar_the_server_accepts_the_clients_own_subflows():
    server, client = paired(3, laminar=False)
    assert limits(plan(server, [client])) == (2, 0)
    assert plan(client, [server])["strategy"] == "routing"
    assert limits(plan(client, [server])) == (2, 2)


def test_backup_link_without_laminar():
    server, client = paired(2, backup=(2,), laminar=False)
    # the client has no endpoint to carry it: the server's backup flag marks the subflow to its link2 address
    assert endpoints(plan(client, [server])) == []
    assert ("10.0.2.1", "link2", ["signal", "backup"]) in endpoints(plan(server, [client]))


def test_nm_profiles_disable_links_without_endpoints():
    server, client = paired(2, laminar=False)
    client["excluded"] = ["mgmt0"]
    result = plan(client, [server])
    assert [(p["interface"], p["flags"]) for p in result["profiles"]] == [
        ("link1", ["disabled"]), ("link2", ["disabled"]), ("mgmt0", ["disabled"])]
    lone = host("lone", "server", ("eth0", ["192.0.2.1"]))
    assert [(p["interface"], p["flags"]) for p in plan(lone, [client])["profiles"]] == [("eth0", ["disabled"])]
    served = plan(server, [client])
    assert [(p["interface"], p["flags"]) for p in served["profiles"]] == [
        ("link1", ["signal", "also-without-default-route"]), ("link2", ["signal", "also-without-default-route"])]


def test_limits_capped_at_eight():
    server = host("server", "server", *[("l%d" % i, ["10.0.%d.1" % i]) for i in range(1, 6)])
    client = host("client", "client", *[("l%d" % i, ["10.0.%d.2" % i]) for i in range(1, 6)])
    result = plan(client, [server], topology="fullmesh")
    assert limits(result) == (8, 4)
    assert any("capped" in line for line in result["advice"])


def test_both_sides_never_signal_and_subflow():
    hub = host("hub", "both", ("link1", ["10.0.1.1"]), ("link2", ["10.0.2.1"]))
    small = host("small", "server", ("link1", ["10.0.1.3"]))
    result = plan(hub, [small])
    for endpoint in result["endpoints"]:
        assert not set(["signal", "subflow"]) <= set(endpoint["flags"])


def test_describe_in_ip_words():
    server, client = paired(2)
    lines = describe(plan(server, [client]))
    assert lines[0].startswith("ip mptcp endpoint add 10.0.1.1 dev link1 signal  # server:")
    assert lines[-1].startswith("ip mptcp limits set subflows 1 add_addr_accepted 0  # ")


@pytest.mark.parametrize("bad, message", [
    ({"name": "h", "side": "router", "links": [{"interface": "a", "addresses": ["10.0.0.1"]}]}, "side 'router'"),
    ({"name": "h", "side": "client", "links": []}, "mptcp_links is empty"),
    ({"name": "h", "side": "client", "links": [{"interface": "a", "addresses": []}]},
     "mptcp_links[0].interface: a has no address"),
    ({"name": "h", "side": "client", "links": [{"interface": "a", "addresses": ["10.0.0.1"]},
                                               {"interface": "a", "addresses": ["10.0.0.2"]}]},
     "mptcp_links[1].interface: a is listed more than once"),
])
def test_check_host_refuses(bad, message):
    with pytest.raises(MptcpError) as error:
        check_host(bad)
    assert message in str(error.value)


def test_unknown_topology_refused():
    server, client = paired(2)
    with pytest.raises(MptcpError, match="mptcp_topology 'ring'"):
        plan(client, [server], topology="ring")


def test_given_limits_win_and_a_lower_one_is_advised():
    server, client = paired(2)
    result = with_limits(plan(client, [server]), {"add_addr_accepted": 0, "subflows": 4})
    assert limits(result) == (4, 0)
    assert result["reasons"]["add_addr_accepted"] == "mptcp_limits.add_addr_accepted, given"
    # only the lower one is advised: a higher limit costs nothing
    assert result["advice"] == ["mptcp_limits.add_addr_accepted=0 is below what the plan needs (1, client: take the "
                                "1 other ipv4 address(es) server server announces): paths stay unused"]


@pytest.mark.parametrize("topology, laminar, rp_filter, advised", [
    # subflow endpoints (a single-homed server): strict filtering on link2 drops its join (measured)
    ("single_homed", False, 1, ["link2"]),
    ("single_homed", True, 1, ["link2"]),
    ("single_homed", False, 2, []),
    ("single_homed", False, 0, []),
    # laminar subflows go to each link's own announced address: strict filtering passes them (measured)
    ("paired", True, 1, []),
    # no endpoints: the routing table picks the source, which the filter accepts
    ("paired", False, 1, []),
])
def test_strict_rp_filter_on_a_client_link_is_advised(topology, laminar, rp_filter, advised):
    server, client = paired(2, laminar=laminar)
    client["links"][1]["rp_filter"] = rp_filter
    result = plan(client, [server], topology=topology)
    lines = [line for line in result["advice"] if "rp_filter" in line]
    assert [line.split(".")[3] for line in lines] == advised
    for line in lines:
        assert "set it to 2 (loose)" in line
    # the server's answers leave through the link the client's join came in on: never advised there
    server["links"][1]["rp_filter"] = rp_filter
    assert not [line for line in plan(server, [client], topology=topology)["advice"] if "rp_filter" in line]


@pytest.mark.parametrize("arp_ignore, advised", [
    # measured (lab topology one-subnet): with 0 both interfaces answered ARP for either address, and a
    # download arrived on one of them only; with 1 each answered for its own
    ((0, 0), ["enp4s0f0", "wlp1s0"]),
    ((1, 0), ["wlp1s0"]),
    ((1, 2), []),
    ((None, None), []),   # unreadable: nothing said
])
def test_two_links_on_one_network_answering_arp_for_each_other_are_advised(arp_ignore, advised):
    server = host("server", "server", ("enp1s0", ["192.0.2.1"]))
    client = host("client", "client", ("enp4s0f0", ["192.0.2.2"]), ("wlp1s0", ["192.0.2.3"]))
    for link, value in zip(client["links"], arp_ignore):
        link["arp_ignore"] = value
    lines = [line for line in plan(client, [server])["advice"] if "arp_ignore" in line]
    assert [line.split(".")[3] for line in lines] == advised
    for line in lines:
        assert "share 192.0.2.0/24" in line and "set it to 1" in line


def test_links_on_separate_networks_are_not_advised_about_arp():
    server, client = paired(2)
    for link in client["links"]:
        link["arp_ignore"] = 0
    assert not [line for line in plan(client, [server])["advice"] if "arp_ignore" in line]
