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
"""

import ipaddress
import re
from pathlib import Path

import yaml

from .util import LabError

TOPOLOGIES_DIR = Path(__file__).resolve().parent.parent / "topologies"
NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,14}$")
CLIENT_GROUP = "clients"
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


def _check_peers(where, ends):
    """Each address must have a peer address of its family in its subnet."""
    (host_a, end_a), (host_b, end_b) = ends.items()
    for this, that, host in ((end_a, end_b, host_a), (end_b, end_a, host_b)):
        for addr in this["addresses"]:
            network = ipaddress.ip_interface(addr["cidr"]).network
            if not any(ipaddress.ip_address(peer["address"]) in network
                       for peer in that["addresses"] if peer["family"] == addr["family"]):
                raise LabError(f"{where}: {host}'s {addr['cidr']} has no peer address in "
                               f"{network} on the other end")


def load(name_or_path):
    """Validate a topology file and return it as plain data (JSON-safe).

    Each end keeps the fields of its first address at the top (address,
    prefix, cidr, family) and all of them under `addresses`; a client's
    first link also gets `gateways` (one peer address per family)."""
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
    unknown = set(raw) - {"hosts", "links", "default_route", "network"}
    if unknown:
        raise LabError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}")
    for name in [*hosts, *links]:
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise LabError(f"{path}: bad name {name!r} (lowercase, <= 15 chars)")
    topo = {"file": str(path), "default_route": default_route, "network": network, "hosts": {}, "links": {}}
    for host, spec in hosts.items():
        topo["hosts"][host] = {"groups": list((spec or {}).get("groups", []))}
    for link, ends in links.items():
        if not isinstance(ends, dict) or len(ends) != 2:
            raise LabError(f"{path}: link {link} must join exactly two hosts")
        topo["links"][link] = {}
        for host, value in ends.items():
            if host not in hosts:
                raise LabError(f"{path}: link {link} names unknown host {host}")
            addresses = parse_addresses(f"{path}: link {link}, host {host}", value)
            topo["links"][link][host] = {"ifname": link, **addresses[0], "addresses": addresses}
        _check_peers(f"{path}: link {link}", topo["links"][link])
    if default_route:
        for host, spec in topo["hosts"].items():
            if CLIENT_GROUP not in spec["groups"]:
                continue
            for _link, end, _peer, peer_end in host_links(topo, host):
                end["gateways"] = first_per_family(peer_end)
                break
    return topo


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
    """(link name, this end, peer host, peer end) for each link of host, in file order."""
    for link, ends in topo["links"].items():
        if host in ends:
            (peer,) = [h for h in ends if h != host]
            yield link, ends[host], peer, ends[peer]


def network_of(topo):
    """What configures the addresses (a lab's state from before: NetworkManager)."""
    return topo.get("network", "networkmanager")
