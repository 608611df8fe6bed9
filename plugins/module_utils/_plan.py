# -*- coding: utf-8 -*-
# Copyright: mptcp.multipath contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The multipath plan: from the links of the hosts of a play to each host's
endpoints, flags and limits. Pure logic: the role's ``mptcp_plan`` filter
calls it on the controller with what ``mptcp_preflight`` read on each host.

The rules, as the upstream MPTCP developers give them (kernel
Documentation/networking/mptcp.rst, mptcp.dev, mptcp_net-next issues #331,
#459, #504, #577, #587) and as measured on this collection's lab
(docs/plan.md has the figures):

1. One subflow per path, never two on one link. A host uses at most one
   address per link and family; a second address of a link would open a
   second subflow over the same wire.
2. A server (the side that accepts connections) with two or more links of a
   family announces each of those addresses: ``signal``, never together with
   ``subflow`` on one endpoint (the kernel uses such an endpoint up for one
   purpose, and the clients' joins fail or double).
3. A client whose servers all announce lets the announcements make its
   subflows (topology ``paired``) where it can set ``laminar`` (kernel 6.18
   and newer, and a backend that can set it): each of its links is then the
   source of one subflow to one announced address, whatever the routing
   table says. ``subflow`` endpoints beside announcements are the usual
   mistake: each of them also joins the server's first address, so that one
   link carries two subflows (measured: 84% of the link sum instead of 86%,
   and slower than plain TCP on a 10 + 3 Mbit/s pair). A client without
   ``laminar`` has no endpoints and takes the announcements, as the RHEL
   chapter's 34.3 does by hand: the routing table then picks each subflow's
   source, which over links paired one-to-one is the link of the announced
   address (measured: one subflow per link). Its own ``subflow`` endpoints
   would give one subflow per link too, but all to the server's first
   address: when that link fails and NetworkManager removes the address,
   the connection loses every subflow (measured in the failover benchmark);
   strict ``rp_filter`` drops them as well (rule 8).
4. A client of a server with one address (topology ``single_homed``: a
   server behind routers, or one interface) opens its subflows itself: one
   ``subflow`` endpoint with ``dev`` on each of its links, so that each
   subflow leaves through its own interface even when all of them sit on
   one subnet. So does the client of a server with several addresses behind
   a router (none of them on a network of the client's links): taking its
   announcements, the routing table would send every subflow out of the
   default route's link (measured).
   A dual-stack client has no endpoints and takes every announcement, of
   either family (measured: an IPv6 connection takes the IPv4 announcements
   too, v4-mapped, so ``laminar`` endpoints go to the wrong family; and an
   IPv6 ``subflow`` endpoint cannot reach the server's first address over
   another link that has no route to it). An IPv6 connection then has an
   IPv6 and an IPv4 subflow on each link (the kernel's doing, not one per
   path), an IPv4 connection one subflow per link.
5. ``fullmesh`` (asked for, never guessed): every client address to every
   server address.
6. A link marked ``backup`` gets the ``backup`` flag on the endpoints of both
   ends: the peer then sends on it only when no other subflow is left.
7. Limits are exact: a client's ``subflows`` is the number of additional
   subflows it opens, its ``add_addr_accepted`` the number of announcements
   it takes; a server's ``subflows`` is the number of joins it accepts. A
   connection is of one family, so the largest need of any family counts;
   the kernel's maximum is 8.
8. Strict reverse-path filtering (``rp_filter`` 1) on a client link drops
   the answers to a subflow that leaves through that link toward an address
   routed through another one (rule 3 and 4's ``subflow`` endpoints): the
   plan says so, per link (measured: the join fails; loose filtering, 2,
   works, and so do ``laminar`` subflows).
9. Two links of a host on one IPv4 network (the RHEL chapter's 34.5: two
   interfaces on one subnet) answer ARP for each other's address while
   ``arp_ignore`` is 0 (the kernel's default): the peer may then send both
   subflows' packets to one interface, and nothing arrives on the other
   (measured: 719 MB on link1, 0 on link2; with ``arp_ignore`` 1 each
   interface answers for its own address only). The plan says so, per link.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ipaddress

from ansible_collections.mptcp.multipath.plugins.module_utils._common import MptcpError
from ansible_collections.mptcp.multipath.plugins.module_utils._limits import LIMIT_MAX

SIDES = ("server", "client", "both")
TOPOLOGIES = ("auto", "paired", "single_homed", "fullmesh")
FAMILIES = ("ipv4", "ipv6")
# NetworkManager makes endpoints only on links with a default route unless told otherwise.
NM_EXTRA_FLAGS = ["also-without-default-route"]


def _family(address):
    return "ipv%d" % ipaddress.ip_address(u"%s" % address).version


def link_addresses(link):
    """{family: the link's first address of that family}: one per link and
    family (rule 1)."""
    result = {}
    for address in link.get("addresses") or []:
        result.setdefault(_family(address), address)
    return result


def _links_of(host, family):
    return [link for link in host["links"] if family in link_addresses(link)]


def _is_server(host):
    return host["side"] in ("server", "both")


def _is_client(host):
    return host["side"] in ("client", "both")


def client_strategy(client, servers, topology):
    """How ``client`` makes its subflows toward ``servers``: ``fullmesh``,
    ``announce`` (the servers' announcements, rule 3), ``subflow`` (its own
    subflow endpoints, rule 4) or ``single`` (one link: nothing to add), with
    the reason."""
    links = max(len(_links_of(client, family)) for family in FAMILIES)
    if topology == "fullmesh":
        return "fullmesh", "topology fullmesh: every client address to every server address"
    shared = [(server, family) for server in servers for family in FAMILIES
              if _links_of(client, family) and _links_of(server, family)]
    single_homed = sorted(set(server["name"] for server, family in shared
                              if len(_links_of(server, family)) < 2))
    if links < 2:
        return "single", "one link: one path, nothing to add"
    routed = _routed_servers(client, [server for server, family in shared])
    if topology == "single_homed":
        reason = "topology single_homed"
    elif single_homed and topology == "auto":
        reason = "server %s has one address per family" % ", ".join(single_homed)
    elif routed and topology == "auto":
        # measured (lab topology router-two-homed): taking the announcements, the routing table sent both
        # subflows out of the default route's link (2.78 GB on link1, none on link2); subflow endpoints with
        # dev used both uplinks (1.72 and 1.67 GB)
        reason = ("server %s is behind a router (none of its addresses is on a network of the client's links), "
                  "so the routing table would send every announced address's subflow out of one link"
                  % ", ".join(routed))
    elif len([family for family in FAMILIES if _links_of(client, family)]) > 1:
        # measured: an IPv6 connection takes IPv4 announcements too (v4-mapped), so laminar endpoints go to
        # the wrong family; and an IPv6 subflow endpoint cannot reach the server's first address over
        # another link without a route there (the join fails), where IPv4 can
        return "routing", ("dual-stack links: the client takes every announcement, of either family, and the "
                           "routing table picks each subflow's source")
    elif not client.get("laminar"):
        # measured: subflow endpoints all join the server's first address, so when its link goes (NetworkManager
        # removes the address) the connection loses every subflow; taking announcements keeps one per address
        return "routing", ("no laminar here (kernel 6.18+; with NetworkManager, 1.56+): the client has no endpoints, "
                           "takes the servers' announcements and the routing table picks each subflow's source, so "
                           "each subflow goes to the server's address on its own link (as the RHEL chapter does by hand)")
    else:
        return "announce", "the servers announce their other addresses; each client link takes one of them (laminar)"
    return "subflow", reason + ": the client opens one subflow from each of its links and takes no announcements"


def _routed_servers(client, servers):
    """The names of ``servers`` none of whose addresses lies on a network of
    ``client``'s links: reached through a router, not over links paired one
    to one. Only where both sides' links say their networks."""
    mine = [ipaddress.ip_network(network) for link in client["links"] for network in link.get("networks") or []]
    routed = set()
    for server in servers:
        theirs = [ipaddress.ip_address(address) for link in server["links"] if link.get("networks")
                  for address in link["addresses"]]
        if mine and theirs and not any(address in network for address in theirs for network in mine
                                       if address.version == network.version):
            routed.add(server["name"])
    return sorted(routed)


def _extra_subflows(client, server, family, strategy):
    """Additional subflows one connection of ``client`` to ``server`` has in ``family``."""
    mine, theirs = len(_links_of(client, family)), len(_links_of(server, family))
    if not mine or not theirs:
        return 0
    if strategy == "fullmesh":
        return mine * theirs - 1
    if strategy == "subflow":
        return mine - 1
    if strategy == "announce":
        return min(mine, theirs) - 1
    if strategy == "routing":
        # every announcement of either family becomes a subflow
        return sum(len(_links_of(server, other)) for other in FAMILIES) - 1
    return 0


def _server_announces(server, topology):
    return topology != "single_homed" and any(len(_links_of(server, family)) >= 2 for family in FAMILIES)


def _endpoint(address, link, flags, reason):
    flags = list(flags) + (["backup"] if link.get("backup") else [])
    return {"address": address, "interface": link["interface"], "flags": flags, "reason": reason}


def check_host(host, where="mptcp_links"):
    """A host's description as the planner takes it: {name, side, links:
    [{interface, addresses, backup}]}; errors name the variable path."""
    if host.get("side") not in SIDES:
        raise MptcpError("host %s: side %r must be one of %s (set mptcp_side, or put the host in mptcp_servers or "
                         "mptcp_clients)" % (host.get("name"), host.get("side"), ", ".join(SIDES)))
    seen = set()
    for index, link in enumerate(host.get("links") or []):
        if link["interface"] in seen:
            raise MptcpError("%s[%d].interface: %s is listed more than once" % (where, index, link["interface"]))
        seen.add(link["interface"])
        if not link.get("addresses"):
            raise MptcpError("%s[%d].interface: %s has no address that can be an MPTCP endpoint (global IPv4 or "
                             "IPv6, not link-local or unique-local)" % (where, index, link["interface"]))
    if not seen:
        raise MptcpError("%s is empty: list the links that carry MPTCP, e.g. [{interface: enp1s0}]" % where)


def plan(host, peers, topology="auto"):
    """The plan of ``host`` among ``peers`` (the other hosts, same shape as
    ``host``, whose ``laminar`` says whether its kernel (6.18+) and backend
    (NetworkManager 1.56+, or netlink) can set that flag): {endpoints: [{address, interface, flags, reason}], profiles:
    [{interface, flags, reason}] (NetworkManager's flags per link), limits:
    {subflows, add_addr_accepted}, reasons: {subflows, add_addr_accepted},
    strategy, paths: [{server, family, interfaces}], advice: [...]}."""
    if topology not in TOPOLOGIES:
        raise MptcpError("mptcp_topology %r must be one of %s" % (topology, ", ".join(TOPOLOGIES)))
    everyone = [host] + [peer for peer in peers if peer["name"] != host["name"]]
    servers = [other for other in everyone if _is_server(other)]
    clients = [other for other in everyone if _is_client(other)]
    endpoints, advice, paths = {}, [], []
    need = {"subflows": (0, "no additional subflows"), "add_addr_accepted": (0, "no announcements to take")}

    def raise_need(limit, value, reason):
        if value > need[limit][0]:
            need[limit] = (value, reason)

    strategy = None
    if _is_server(host) and _server_announces(host, topology):
        for link in host["links"]:
            for family, address in sorted(link_addresses(link).items()):
                if len(_links_of(host, family)) >= 2:
                    endpoints[address] = _endpoint(address, link, ["signal"],
                                                   "server: announce this %s address to the clients" % family)
    if _is_server(host):
        for client in clients:
            if client["name"] == host["name"]:
                continue
            their_servers = [server for server in servers if server["name"] != client["name"]]
            client_way = client_strategy(client, their_servers, topology)[0]
            for family in FAMILIES:
                extra = _extra_subflows(client, host, family, client_way)
                raise_need("subflows", extra, "server: accept %d join(s) from client %s over %s"
                           % (extra, client["name"], family))
    if _is_client(host):
        my_servers = [server for server in servers if server["name"] != host["name"]]
        strategy, why = client_strategy(host, my_servers, topology)
        for server in my_servers:
            for family in FAMILIES:
                if not _links_of(host, family) or not _links_of(server, family):
                    continue
                extra = _extra_subflows(host, server, family, strategy)
                raise_need("subflows", extra, "client: %d additional subflow(s) to server %s over %s (%s)"
                           % (extra, server["name"], family, strategy))
                if strategy == "routing" and _server_announces(server, topology):
                    raise_need("add_addr_accepted", extra, "client: take the %d other address(es), of either "
                               "family, server %s announces" % (extra, server["name"]))
                elif strategy in ("announce", "fullmesh") and _server_announces(server, topology):
                    # a server does not announce the address the connection already uses
                    announced = len(_links_of(server, family)) - 1
                    raise_need("add_addr_accepted", announced,
                               "client: take the %d other %s address(es) server %s announces"
                               % (announced, family, server["name"]))
                mine = [link["interface"] for link in _links_of(host, family)]
                paths.append({"server": server["name"], "family": family,
                              "interfaces": mine[:extra + 1] if strategy != "fullmesh" else mine})
        flags = {"subflow": ["subflow"], "fullmesh": ["subflow", "fullmesh"],
                 "announce": ["laminar"]}.get(strategy, [])
        for link in host["links"]:
            for family, address in sorted(link_addresses(link).items()):
                if not flags or len(_links_of(host, family)) < 2:
                    continue
                if address in endpoints:
                    # a host that is both: rule 2 keeps signal apart from subflow
                    if "subflow" in flags:
                        advice.append("%s is announced (server) and would open subflows (client): it only announces"
                                      % address)
                    elif "laminar" in flags:
                        endpoints[address]["flags"].insert(1, "laminar")
                    continue
                endpoints[address] = _endpoint(address, link, flags, "client: %s" % why)
        advice.extend(_strict_rp_filter_advice(host, strategy))
    advice.extend(_arp_flux_advice(host))
    limits = dict((key, min(value, LIMIT_MAX)) for key, (value, reason) in need.items())
    for key, (value, reason) in need.items():
        if value > LIMIT_MAX:
            advice.append("%s would need %d, more than the kernel's %d: capped" % (key, value, LIMIT_MAX))
    ordered = [endpoints[address] for link in host["links"] for address in
               [a for f, a in sorted(link_addresses(link).items())] if address in endpoints]
    return {
        "side": host["side"],
        "strategy": strategy or ("announce" if endpoints else "single"),
        "endpoints": ordered,
        "profiles": _profiles(host, ordered),
        "limits": limits,
        "reasons": dict((key, reason) for key, (value, reason) in need.items()),
        "paths": paths,
        "advice": advice,
    }


def _strict_rp_filter_advice(client, strategy):
    """Rule 8: a client's ``subflow`` (and ``fullmesh``) endpoints send over a
    link to a server address the routing table reaches through another link;
    strict reverse-path filtering (rp_filter 1, the larger of ``all`` and the
    interface counting; RHEL's default) drops the answers (measured: the join
    fails, TcpExtIPReversePathFilter counts them; loose, 2, and off, 0, work;
    laminar subflows toward each link's own announced address pass)."""
    links = _links_of(client, "ipv4")
    if strategy not in ("subflow", "fullmesh") or len(links) < 2:
        return []
    return ["net.ipv4.conf.%s.rp_filter is 1 (strict): the subflows over %s to a server address routed through "
            "another link are dropped; set it to 2 (loose), e.g. sysctl -w net.ipv4.conf.all.rp_filter=2 "
            "net.ipv4.conf.%s.rp_filter=2" % (link["interface"], link["interface"], link["interface"])
            for link in links if link.get("rp_filter") == 1]


def _arp_flux_advice(host):
    """Rule 9: the host's IPv4 links that share a network with another of its
    links and answer ARP for every local address (arp_ignore 0)."""
    by_network = {}
    for link in _links_of(host, "ipv4"):
        for network in set(network for network in link.get("networks") or []
                           if ipaddress.ip_network(network).version == 4):
            by_network.setdefault(network, []).append(link)
    advice = []
    for network, links in sorted(by_network.items()):
        if len(links) < 2:
            continue
        names = ", ".join(link["interface"] for link in links)
        advice.extend("net.ipv4.conf.%s.arp_ignore is 0: %s share %s, and each answers ARP for the others' "
                      "addresses, so a peer may send every subflow's packets to one of them; set it to 1, e.g. "
                      "sysctl -w net.ipv4.conf.%s.arp_ignore=1" % (link["interface"], names, network,
                                                                   link["interface"])
                      for link in links if link.get("arp_ignore") == 0)
    return advice


def _profiles(host, endpoints):
    """NetworkManager's view: one flag set per link. NetworkManager makes an
    endpoint of every address of a profile, so a link without a planned
    endpoint gets ``disabled`` (else its default flags would make a
    ``subflow`` endpoint where the link holds the default route)."""
    profiles = []
    for link in host["links"]:
        mine = [endpoint for endpoint in endpoints if endpoint["interface"] == link["interface"]]
        if mine:
            flags = list(mine[0]["flags"]) + NM_EXTRA_FLAGS
            reason = mine[0]["reason"]
        else:
            flags, reason = ["disabled"], "no endpoint planned on this link"
        profiles.append({"interface": link["interface"], "flags": flags, "reason": reason})
    for interface in host.get("excluded") or []:
        profiles.append({"interface": interface, "flags": ["disabled"], "reason": "kept out of MPTCP"})
    return profiles


def describe(result):
    """The plan in the words of ``ip mptcp``, each line with its reason."""
    lines = ["ip mptcp endpoint add %s dev %s %s  # %s" % (
        endpoint["address"], endpoint["interface"], " ".join(endpoint["flags"]), endpoint["reason"])
        for endpoint in result["endpoints"]]
    lines.append("ip mptcp limits set subflows %d add_addr_accepted %d  # %s; %s" % (
        result["limits"]["subflows"], result["limits"]["add_addr_accepted"], result["reasons"]["subflows"],
        result["reasons"]["add_addr_accepted"]))
    return lines


def with_limits(result, limits):
    """``result`` with each key of the user's ``limits`` (mptcp_limits, the
    expert override) replacing the planned one, and advice where it is below
    what the plan needs (those paths then stay unused)."""
    for key, value in sorted((limits or {}).items()):
        planned = result["limits"].get(key)
        if planned is not None and value < planned:
            result["advice"].append("mptcp_limits.%s=%d is below what the plan needs (%d, %s): paths stay unused"
                                    % (key, value, planned, result["reasons"][key]))
        result["limits"][key] = value
        result["reasons"][key] = "mptcp_limits.%s, given" % key
    return result
