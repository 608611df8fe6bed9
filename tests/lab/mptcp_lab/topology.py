"""Topology files: hosts and the point-to-point links between them.

    hosts:
      server: {groups: [servers, mptcp_servers]}
      client: {groups: [clients, mptcp_clients]}
    links:
      link1: {server: 192.0.2.1/24, client: 192.0.2.2/24}
      link2:                                  # dual-stack: a list of CIDRs
        server: [198.51.100.1/24, 2001:db8:2::1/64]
        client: [198.51.100.2/24, 2001:db8:2::2/64]
    default_route: true                       # the default
    network: networkmanager                   # the default; or networkd

Every link joins exactly two hosts. Inside each host the link's interface is
named after the link (so at most 15 characters), and NetworkManager has a
keyfile profile of the same name carrying the addresses. Both ends of a link
have addresses of the same families, each in the same subnet as the peer's.

network: networkd gives hosts without NetworkManager instead: its unit is
masked, systemd-networkd is enabled, and each link has a .network file of
the same name (/etc/systemd/network/) carrying the addresses and routes.

default_route (on unless the file says `default_route: false`): every host
in group `clients` gets a default route on its first link (the first in the
file that it is on), via the peer's first address of each family that link
has, as a real client has one.

A host may also say (both optional, declarative):

    hosts:
      router: {groups: [routers], forward: true}
      client: {groups: [clients, mptcp_clients], default_routes: [link1, link2]}
      server: {groups: [servers, mptcp_servers], default_routes: [link3]}

forward: true makes the host a router: IPv4 and IPv6 forwarding on (a
sysctl.d file), and no `mptcp_links` in the inventory (it is no MPTCP end).
default_routes lists the host's links that carry a default route, via the
peer's first address of each family, in order of preference: with more
than one, the first has metric 100, the next 101 and so on, as
NetworkManager gives two connected uplinks. It replaces a client's implicit
default route on its first link.

A shared segment (a bridge, as on one Ethernet switch) joins the ends of
several links on one subnet, so that a host can have two interfaces there:

    links:
      link1: {server: 192.0.2.1/24, client: 192.0.2.2/24}
      link2: {client: 192.0.2.3/24}
    segments:
      lan: [link1, link2]

A link in a segment has one end or more; every address needs a peer
address of its family in its subnet among the other hosts' ends of the
segment. The bridge lives in a network namespace of its own (nspawn only).
"""

import ipaddress
import re
from pathlib import Path

import yaml

from .util import LabError

TOPOLOGIES_DIR = Path(__file__).resolve().parent.parent / "topologies"
NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,14}$")
CLIENT_GROUP = "clients"
HOST_KEYS = ("groups", "forward", "default_routes")
# the metric of a host's first default route when it has several (NetworkManager's
# for Ethernet); the next ones count up from it
FIRST_METRIC = 100
# What configures the hosts' addresses (see hostfiles.py).
NETWORKS = ("networkmanager", "networkd")


def resolve(name_or_path):
    """A topology name (file in topologies/) or a path to a YAML file."""
    path = Path(name_or_path)
    if not path.suffix:
        path = TOPOLOGIES_DIR / f"{name_or_path}.yml"
    if not path.exists():
        raise LabError(f"no topology file {path}")
    return path


def parse_addresses(where, value):
    """One CIDR or a list of them -> [{address, prefix, cidr, family}]."""
    cidrs = value if isinstance(value, list) else [value]
    if not cidrs:
        raise LabError(f"{where}: no address")
    addresses = []
    for cidr in cidrs:
        if not isinstance(cidr, str) or "/" not in cidr:
            raise LabError(f"{where}: {cidr!r} is not an address with a prefix length (e.g. 192.0.2.1/24)")
        try:
            iface = ipaddress.ip_interface(cidr)
        except ValueError as exc:
            raise LabError(f"{where}: {cidr!r}: {exc}") from None
        if iface.ip == iface.network.network_address and iface.network.num_addresses > 2:
            raise LabError(f"{where}: {cidr!r} is a network, not a host address")
        addresses.append({"address": str(iface.ip), "prefix": iface.network.prefixlen,
                          "cidr": str(iface), "family": iface.version})
    if len({a["address"] for a in addresses}) != len(addresses):
        raise LabError(f"{where}: an address is listed twice")
    return addresses


def _check_peers(where, ends, others):
    """Each address of ends must have a peer address of its family in its
    subnet among others (the other hosts' ends of the link or segment)."""
    for host, end in ends.items():
        candidates = [a for peer, peer_end in others if peer != host for a in peer_end["addresses"]]
        for addr in end["addresses"]:
            network = ipaddress.ip_interface(addr["cidr"]).network
            if not any(ipaddress.ip_address(peer["address"]) in network
                       for peer in candidates if peer["family"] == addr["family"]):
                raise LabError(f"{where}: {host}'s {addr['cidr']} has no peer address in "
                               f"{network} on another host's end")


def _check_host(where, spec, links):
    """A host's entry: groups, forward and default_routes (links it is on)."""
    if not isinstance(spec, dict):
        raise LabError(f"{where}: must be a mapping (groups, forward, default_routes), not {spec!r}")
    unknown = set(spec) - set(HOST_KEYS)
    if unknown:
        raise LabError(f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
    if not isinstance(spec.get("groups", []), list):
        raise LabError(f"{where}: groups must be a list, not {spec['groups']!r}")
    if not isinstance(spec.get("forward", False), bool):
        raise LabError(f"{where}: forward must be true or false, not {spec['forward']!r}")
    routes = spec.get("default_routes", [])
    if not isinstance(routes, list):
        raise LabError(f"{where}: default_routes must be a list of its links, not {routes!r}")
    for link in routes:
        if link not in links:
            raise LabError(f"{where}: default_routes names {link!r}, which is not one of its links")
    if len(set(routes)) != len(routes):
        raise LabError(f"{where}: default_routes lists a link twice")


def _load_segments(path, raw, links):
    """segments: {name: [link, ...]} -> {link: segment name}."""
    segments = raw.get("segments") or {}
    if not isinstance(segments, dict):
        raise LabError(f"{path}: segments must map a name to a list of links, not {segments!r}")
    owner = {}
    for name, members in segments.items():
        if not isinstance(name, str) or not NAME_RE.match(name) or name in links:
            raise LabError(f"{path}: bad segment name {name!r} (lowercase, <= 15 chars, not a link's name)")
        if not isinstance(members, list) or not members:
            raise LabError(f"{path}: segment {name} must list its links, not {members!r}")
        for link in members:
            if link not in links:
                raise LabError(f"{path}: segment {name} names unknown link {link!r}")
            if link in owner:
                raise LabError(f"{path}: link {link} is in segments {owner[link]} and {name}")
            owner[link] = name
    return owner


def load(name_or_path):
    """Validate a topology file and return it as plain data (JSON-safe).

    Each end keeps the fields of its first address at the top (address,
    prefix, cidr, family) and all of them under `addresses`; an end with a
    default route (a client's first link, or the host's default_routes)
    also gets `gateways` (one peer address per family), and `metric` when
    its host has several."""
    path = resolve(name_or_path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise LabError(f"{path}: not YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise LabError(f"{path}: needs hosts and links")
    hosts = raw.get("hosts") or {}
    links = raw.get("links") or {}
    default_route = raw.get("default_route", True)
    network = raw.get("network", "networkmanager")
    if not hosts or not links or not isinstance(hosts, dict) or not isinstance(links, dict):
        raise LabError(f"{path}: needs hosts and links")
    if not isinstance(default_route, bool):
        raise LabError(f"{path}: default_route must be true or false, not {default_route!r}")
    if network not in NETWORKS:
        raise LabError(f"{path}: network must be one of {', '.join(NETWORKS)}, not {network!r}")
    unknown = set(raw) - {"hosts", "links", "default_route", "network", "segments"}
    if unknown:
        raise LabError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}")
    for name in [*hosts, *links]:
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise LabError(f"{path}: bad name {name!r} (lowercase, <= 15 chars)")
    in_segment = _load_segments(path, raw, links)
    topo = {"file": str(path), "default_route": default_route, "network": network, "hosts": {}, "links": {}}
    for link, ends in links.items():
        if not isinstance(ends, dict) or not ends or (link not in in_segment and len(ends) != 2):
            raise LabError(f"{path}: link {link} must join exactly two hosts"
                           + ("" if link in in_segment else " (or be in a segment)"))
        topo["links"][link] = {}
        for host, value in ends.items():
            if host not in hosts:
                raise LabError(f"{path}: link {link} names unknown host {host}")
            addresses = parse_addresses(f"{path}: link {link}, host {host}", value)
            topo["links"][link][host] = {"ifname": link, **addresses[0], "addresses": addresses}
    if in_segment:
        topo["segments"] = {}
        for link, segment in in_segment.items():
            topo["segments"].setdefault(segment, []).append(link)
    for link, ends in topo["links"].items():
        where = f"{path}: link {link}" + (f" (segment {in_segment[link]})" if link in in_segment else "")
        _check_peers(where, ends, peers(topo, link))
    for host, spec in hosts.items():
        spec = {} if spec is None else spec
        mine = [link for link, ends in topo["links"].items() if host in ends]
        _check_host(f"{path}: host {host}", spec, mine)
        topo["hosts"][host] = {"groups": list(spec.get("groups", [])), "forward": spec.get("forward", False),
                               "default_routes": list(spec.get("default_routes", []))}
    for host, spec in topo["hosts"].items():
        routes = spec["default_routes"]
        if not routes and default_route and CLIENT_GROUP in spec["groups"]:
            routes = [link for link, _end, _peer, _peer_end in host_links(topo, host)][:1]
        for index, link in enumerate(routes):
            end = topo["links"][link][host]
            peer_end = peers(topo, link, host)[0][1]
            end["gateways"] = first_per_family(peer_end)
            if len(routes) > 1:
                end["metric"] = FIRST_METRIC + index
    return topo


def peers(topo, link, host=None):
    """[(host, end)] of the link, or of every link of its segment, in file
    order; without those of `host`."""
    members = [link]
    for segment_links in topo.get("segments", {}).values():
        if link in segment_links:
            members = segment_links
    return [(other, end) for member in members for other, end in topo["links"][member].items() if other != host]


def segment_of(topo, link):
    """The segment a link is in, or None (a point-to-point link)."""
    for segment, segment_links in topo.get("segments", {}).items():
        if link in segment_links:
            return segment
    return None


def first_per_family(end):
    """The first address of each family an end has, IPv4 first."""
    found = {}
    for addr in end_addresses(end):
        found.setdefault(addr["family"], addr["address"])
    return [found[family] for family in sorted(found)]


def end_addresses(end):
    """All addresses of an end (a lab's state from before lists only one)."""
    return end.get("addresses") or [{key: end[key] for key in ("address", "prefix", "cidr", "family")}]


def host_links(topo, host):
    """(link name, this end, peer host, peer end) for each link of host, in
    file order; on a segment the peer is the first other host's end there."""
    for link, ends in topo["links"].items():
        if host in ends:
            peer, peer_end = peers(topo, link, host)[0]
            yield link, ends[host], peer, peer_end


def network_of(topo):
    """What configures the addresses (a lab's state from before: NetworkManager)."""
    return topo.get("network", "networkmanager")
