"""Topology files: hosts and the point-to-point links between them.

    hosts:
      server: {groups: [servers, mptcp_servers]}
      client: {groups: [clients, mptcp_clients]}
    links:
      link1: {server: 192.0.2.1/24, client: 192.0.2.2/24}

Every link joins exactly two hosts. Inside each host the link's interface is
named after the link (so at most 15 characters), and NetworkManager has a
keyfile profile of the same name carrying the address.
"""

import ipaddress
import re
from pathlib import Path

import yaml

TOPOLOGIES_DIR = Path(__file__).resolve().parent.parent / "topologies"
NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,14}$")


def resolve(name_or_path):
    """A topology name (file in topologies/) or a path to a YAML file."""
    path = Path(name_or_path)
    if not path.suffix:
        path = TOPOLOGIES_DIR / f"{name_or_path}.yml"
    if not path.exists():
        raise SystemExit(f"no topology file {path}")
    return path


def load(name_or_path):
    """Validate a topology file and return it as plain data (JSON-safe)."""
    path = resolve(name_or_path)
    raw = yaml.safe_load(path.read_text()) or {}
    hosts = raw.get("hosts") or {}
    links = raw.get("links") or {}
    if not hosts or not links:
        raise SystemExit(f"{path}: needs hosts and links")
    for name in [*hosts, *links]:
        if not NAME_RE.match(name):
            raise SystemExit(f"{path}: bad name {name!r} (lowercase, <= 15 chars)")
    topo = {"file": str(path), "hosts": {}, "links": {}}
    for host, spec in hosts.items():
        topo["hosts"][host] = {"groups": list((spec or {}).get("groups", []))}
    for link, ends in links.items():
        if len(ends) != 2:
            raise SystemExit(f"{path}: link {link} must join exactly two hosts")
        topo["links"][link] = {}
        for host, cidr in ends.items():
            if host not in hosts:
                raise SystemExit(f"{path}: link {link} names unknown host {host}")
            iface = ipaddress.ip_interface(cidr)
            topo["links"][link][host] = {
                "ifname": link,
                "address": str(iface.ip),
                "prefix": iface.network.prefixlen,
                "cidr": str(iface),
                "family": iface.version,
            }
    return topo


def host_links(topo, host):
    """(link name, this end, peer host, peer end) for each link of host."""
    for link, ends in topo["links"].items():
        if host in ends:
            (peer,) = [h for h in ends if h != host]
            yield link, ends[host], peer, ends[peer]
