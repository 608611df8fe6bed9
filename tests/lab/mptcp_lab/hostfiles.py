"""Files that make a lab host out of the shared image: hostname, /etc/hosts
and one NetworkManager keyfile profile per link (named after the link), or,
in a topology with `network: networkd`, one systemd-networkd .network file
per link, networkd enabled and NetworkManager masked (a unit linked to
/dev/null: the image stays shared, so the package is not removed).

Both backends write the same files: nspawn into the machine's overlay upper
directory, qemu onto a small seed disk that the image copies on first boot.
They are written once, at `up`: a reboot keeps whatever the host (or a role
using nmcli) changed since.
"""

import ipaddress
import uuid

from .topology import end_addresses, host_links, network_of

# A fixed namespace so a profile's UUID depends only on lab, host and link.
UUID_NS = uuid.UUID("7d3c2f0e-4b8a-4c5e-9a51-6d7074637061")


def nm_profile(lab, host, name, ifname=None, addresses=(), mptcp_flags=None, gateways=(), metric=None):
    """A keyfile profile; addresses are dicts with cidr and family.

    A family with a gateway gets the default route through it (as a real
    client's uplink has), with the route metric given (a host with several
    uplinks); every other family with addresses is never-default, and a
    family without addresses is disabled."""
    lines = [
        "[connection]",
        f"id={name}",
        f"uuid={uuid.uuid5(UUID_NS, f'{lab}/{host}/{name}')}",
        "type=ethernet",
        "autoconnect=true",
    ]
    if ifname:
        lines.append(f"interface-name={ifname}")
    if mptcp_flags is not None:
        lines.append(f"mptcp-flags={mptcp_flags}")
    lines += ["", "[ethernet]"]
    for family, section in ((4, "ipv4"), (6, "ipv6")):
        mine = [a["cidr"] for a in addresses if a["family"] == family]
        gateway = [g for g in gateways if ipaddress.ip_address(g).version == family]
        lines += ["", f"[{section}]"]
        if mine:
            lines.append("method=manual")
            lines += [f"address{i}={cidr}" for i, cidr in enumerate(mine, 1)]
            if gateway:
                lines.append(f"gateway={gateway[0]}")
                if metric is not None:
                    lines.append(f"route-metric={metric}")
            else:
                # The other links are point-to-point test paths: no default route.
                lines.append("never-default=true")
        else:
            lines.append("method=disabled")
    return "\n".join(lines) + "\n"


# Symlinks (mode None) that enable systemd-networkd and mask NetworkManager,
# as `systemctl enable/mask` would; wait-online waits for the links.
NETWORKD_UNITS = {
    "/etc/systemd/system/multi-user.target.wants/systemd-networkd.service": "/lib/systemd/system/systemd-networkd.service",
    "/etc/systemd/system/sockets.target.wants/systemd-networkd.socket": "/lib/systemd/system/systemd-networkd.socket",
    "/etc/systemd/system/network-online.target.wants/systemd-networkd-wait-online.service":
        "/lib/systemd/system/systemd-networkd-wait-online.service",
    "/etc/systemd/system/NetworkManager.service": "/dev/null",
    "/etc/systemd/system/NetworkManager-wait-online.service": "/dev/null",
    "/etc/systemd/system/NetworkManager-dispatcher.service": "/dev/null",
}


def networkd_file(name, addresses=(), gateways=(), metric=None):
    """A .network file for interface `name`: static addresses, a default
    route through each gateway (with the metric given: a host with several
    uplinks), no DHCP and no router advertisements (the lab's links are
    point-to-point test paths)."""
    lines = ["[Match]", f"Name={name}", "", "[Network]", "DHCP=no", "IPv6AcceptRA=no"]
    lines += [f"Address={a['cidr']}" for a in addresses]
    if metric is None:
        lines += [f"Gateway={gateway}" for gateway in gateways]
    for gateway in gateways if metric is not None else ():
        lines += ["", "[Route]", f"Gateway={gateway}", f"Metric={metric}"]
    return "\n".join(lines) + "\n"


# A router host (forward: true) forwards both families; systemd-sysctl
# applies it at boot (nspawn leaves /proc/sys/net writable with a private
# network).
FORWARD_SYSCTL = ("/etc/sysctl.d/60-mptcp-lab-forward.conf",
                  "# mptcp-lab: this host is a router (forward: true)\n"
                  "net.ipv4.ip_forward = 1\nnet.ipv6.conf.all.forwarding = 1\n")


def host_files(lab, topo, host, extra_profiles=()):
    """{absolute path: (content, mode)} for one host; mode None is a symlink to content."""
    files = {"/etc/hostname": (f"{host}\n", 0o644)}
    hosts_lines = ["127.0.0.1 localhost", f"127.0.1.1 {host}"]
    for other in topo["hosts"]:
        if other == host:
            continue
        # A peer's name resolves to its address on the first link we share.
        shared = [link_end[3] for link_end in host_links(topo, host) if link_end[2] == other]
        if shared:
            hosts_lines.append(f"{shared[0]['address']} {other}")
    files["/etc/hosts"] = ("\n".join(hosts_lines) + "\n", 0o644)
    if topo["hosts"][host].get("forward"):
        files[FORWARD_SYSCTL[0]] = (FORWARD_SYSCTL[1], 0o644)
    if network_of(topo) == "networkd":
        files.update((path, (target, None)) for path, target in NETWORKD_UNITS.items())
        for link, end, _peer, _peer_end in host_links(topo, host):
            files[f"/etc/systemd/network/10-{link}.network"] = (
                networkd_file(end["ifname"], end_addresses(end), end.get("gateways", ()), end.get("metric")), 0o644)
        return files
    for link, end, _peer, _peer_end in host_links(topo, host):
        files[f"/etc/NetworkManager/system-connections/{link}.nmconnection"] = (
            nm_profile(lab, host, link, ifname=end["ifname"], addresses=end_addresses(end),
                       gateways=end.get("gateways", ()), metric=end.get("metric")), 0o600)
    for name, content in extra_profiles:
        files[f"/etc/NetworkManager/system-connections/{name}.nmconnection"] = (content, 0o600)
    return files


def write_tree(root, files):
    """Write files under root (a directory standing for /)."""
    for path, (content, mode) in files.items():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists() or target.is_symlink():
            target.unlink()
        if mode is None:
            target.symlink_to(content)
            continue
        target.write_text(content)
        target.chmod(mode)
