"""The plan on the wire (issue 20, "Done when"): for every topology the lab
builds, playbooks/permanent.yml (the mptcp role's plan from the inventory's
mptcp_links) and then one real MPTCP connection from every client to
every server (all at once), to the server's first address of a family,
carrying data; its subflows, as the client's
`ss -tni` shows them (local address and device -> remote address, with the
subflow's MPTCP flags), must be the planned ones: for the connection's path
in the role's fact `mptcp_plan.paths` exactly one subflow leaving by each
interface listed, none on any other, none duplicated on a link, and the
backup flag on the subflows of a link the plan marks backup. A host in
neither mptcp_servers nor mptcp_clients (the router topology's router)
must be no part of the play. Where several servers and clients share
two segments (shared-links: two servers, three clients), a second run of
permanent.yml must change nothing on any host.

The expected subflows come from the role's own fact (a play after
permanent.yml writes each host's `mptcp_plan` to a file), not from this
file: what the test adds is the topology (which server address to connect
to) and the lab's links (a link has the same name at both ends).

A dual-stack client's IPv6 connection also gets IPv4 subflows (the kernel
maps the server's IPv4 announcements onto it; the plan's docstring, rule 4,
and docs/plan.md): those are checked per family too (one per link at most)
and reported.

One lab per topology (names plan-*), brought down when its last case is
done; the table of what was seen is printed at the end of the module and
is in docs/plan.md."""

import ipaddress
import json
import re
import time

import pytest
import yaml

from _fault_support import HostProcess, PERMANENT
from conftest import ROOT, findings
from mptcp_lab.util import wait_for

# case: (topology, links marked backup in every host's mptcp_links); the
# cases of one topology follow each other (they share its lab)
CASES = {
    "two-links": ("two-links", ()),
    "two-links, link2 backup": ("two-links", ("link2",)),
    # the same links with unequal delays (DELAYS): the plan does not depend on them
    "two-links, 10 and 40 ms delay": ("two-links", ()),
    "three-links": ("three-links", ()),
    "dual-stack": ("dual-stack", ()),
    "two-links-networkd": ("two-links-networkd", ()),
    # a client with two uplinks to a router, the server single-homed behind it
    # (the router forwards only: in no MPTCP group, no mptcp_links)
    "router": ("router", ()),
    "router, link2 backup": ("router", ("link2",)),
    # the same on hosts without NetworkManager (the role's systemd endpoint backend)
    "router-networkd": ("router-networkd", ()),
    # the client's two interfaces and the server on one bridged subnet (seed 34.5)
    "one-subnet": ("one-subnet", ()),
    # the server's two addresses behind the router too: no link is paired
    "router-two-homed": ("router-two-homed", ()),
    # two servers and three clients, each with one interface on each of two
    # bridged segments: every client to every server
    "shared-links": ("shared-links", ()),
}
# one-way delays (ms) at both ends of a case's links (the lab's delay line,
# `mptcp-lab delay`): each subflow's minimum round trip must show its link's delay
DELAYS = {"two-links, 10 and 40 ms delay": {"link1": 10, "link2": 40}}
# cases whose test also runs permanent.yml a second time, which must change
# nothing (about 7 s; the other topologies' idempotence is molecule's)
CONVERGE_TWICE = ("shared-links",)
ORDER = list(CASES)
FAMILIES = {"ipv4": 4, "ipv6": 6}
# the sender's pace (bytes/s) and length: long enough to read the subflows
# under data, short enough for a quick module
RATE = 2 << 20
SECONDS = 8
# seconds after the connection is established before its subflows are read
# (they join within a second here); a late extra subflow would be seen then
SETTLE = 3

# Runs inside a lab host: an MPTCP receiver or a paced sender, one line of
# JSON at the end.
FLOW = r'''
import json, socket, sys, time
IPPROTO_MPTCP = 262
role, family, port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
af = socket.AF_INET6 if family == 6 else socket.AF_INET
if role == "receive":
    listener = socket.socket(af, socket.SOCK_STREAM, IPPROTO_MPTCP)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("::" if family == 6 else "0.0.0.0", port))
    listener.listen(1)
    listener.settimeout(60)
    print("listening", flush=True)
    conn, peer = listener.accept()
    conn.settimeout(60)
    total = 0
    while True:
        data = conn.recv(65536)
        if not data:
            break
        total += len(data)
    print(json.dumps({"bytes": total, "peer": peer[0]}), flush=True)
else:
    address, rate, seconds = sys.argv[4], float(sys.argv[5]), float(sys.argv[6])
    conn = socket.socket(af, socket.SOCK_STREAM, IPPROTO_MPTCP)
    conn.settimeout(30)
    conn.connect((address, port))
    print("connected", flush=True)
    chunk, total, started = b"x" * 16384, 0, time.monotonic()
    while time.monotonic() - started < seconds:
        conn.sendall(chunk)
        total += len(chunk)
        pause = started + total / rate - time.monotonic()
        if pause > 0:
            time.sleep(pause)
    conn.shutdown(socket.SHUT_WR)
    conn.settimeout(30)
    while conn.recv(1):
        pass
    conn.close()
    print(json.dumps({"bytes": total}), flush=True)
'''

KEEP_PLAN = """\
- name: The collection's permanent.yml
  ansible.builtin.import_playbook: {permanent}

- name: Keep each host's plan for the test
  hosts: mptcp_servers:mptcp_clients
  gather_facts: false
  tasks:
    - name: Write the role's fact mptcp_plan
      ansible.builtin.copy:
        content: "{{{{ mptcp_plan | to_json }}}}"
        dest: "{directory}/plan-{{{{ inventory_hostname }}}}.json"
        mode: "0644"
      delegate_to: localhost
"""

note, print_report = findings("PATHS", "subflows of one connection against the plan")
TABLE = []
_port = [7400]


class Planned:
    """A lab configured by permanent.yml for one case, with each host's plan."""

    def __init__(self, case, lab, directory):
        self.case, self.lab, self.directory = case, lab, directory
        self.backup = CASES[case][1]

    def converge(self):
        wrapper = self.directory / "permanent-and-plan.yml"
        wrapper.write_text(KEEP_PLAN.format(permanent=ROOT / PERMANENT, directory=self.directory))
        inventory = self.lab.inventory_data()["all"]
        self.servers = list(inventory["children"]["mptcp_servers"]["hosts"])
        self.clients = list(inventory["children"]["mptcp_clients"]["hosts"])
        self.extra = []
        if self.backup:
            # the intent: these links are backup links, on every host (given
            # after the lab's inventory, this file's host variables win)
            hosts = self.lab.inventory_data()["all"]["hosts"]
            overlay = {"all": {"hosts": {host: {"mptcp_links": [
                dict(link, backup=True) if link["interface"] in self.backup else link
                for link in hostvars["mptcp_links"]]} for host, hostvars in hosts.items() if "mptcp_links" in hostvars}}}
            path = self.directory / "backup-links.yml"
            path.write_text(yaml.safe_dump(overlay))
            self.extra = ["-i", str(path)]
        result = self.lab.playbook(str(wrapper), extra_args=self.extra, timeout=600)
        assert result.rc == 0, result.output[-5000:]
        # a router (in no MPTCP group) is no part of the play
        assert set(result.recap) == set(self.servers + self.clients), (sorted(result.recap), sorted(inventory["hosts"]))
        self.plans = {host: json.loads((self.directory / ("plan-%s.json" % host)).read_text())
                      for host in self.servers + self.clients}
        for host in self.servers + self.clients:
            # the plan in ip mptcp words, without the reasons
            note("%s: %s's plan (%s): %s" % (self.case, host, self.plans[host]["strategy"], "; ".join(
                line.split("  #")[0] for line in self.plans[host]["commands"])))
        note("%s: permanent.yml took %.1f s" % (self.case, result.seconds))

    def converge_again(self):
        """permanent.yml once more, as it is: it must change nothing on any host."""
        result = self.lab.playbook(PERMANENT, extra_args=self.extra, timeout=600)
        assert result.rc == 0, result.output[-5000:]
        changed = {host: counts["changed"] for host, counts in result.recap.items()}
        note("%s: permanent.yml again took %.1f s, changed %s" % (self.case, result.seconds, changed))
        assert set(changed) == set(self.servers + self.clients), sorted(changed)
        assert not any(changed.values()), (changed, result.output[-5000:])

    def links(self, host):
        return self.lab.hostvars(host)["mptcp_lab_interfaces"]

    def first_address(self, host, version):
        """The host's first address of a family, in the topology's order."""
        for info in self.links(host).values():
            for address in info["addresses"]:
                if ipaddress.ip_address(address).version == version:
                    return address
        return None

    def planned_backup(self, interface):
        """Whether the plan marks this link backup (either end's endpoints)."""
        return any("backup" in endpoint["flags"] for host in self.plans
                   for endpoint in self.plans[host]["endpoints"] if endpoint["interface"] == interface)


def unmapped(address):
    ip = ipaddress.ip_address(address)
    return str(ip.ipv4_mapped) if ip.version == 6 and ip.ipv4_mapped else str(ip)


ENDPOINT = re.compile(r"^\[?(?P<address>[^\]%]+?)\]?(?:%(?P<dev>[^:\]]+))?:(?P<port>\d+)$")


def parse_subflows(text):
    """`ss -tniH state established` lines: [{local, dev, remote, flags}] (the
    info line that follows each socket holds `tcp-ulp-mptcp flags:...`)."""
    subflows = []
    for line in text.splitlines():
        if not line.strip():
            continue
        if not line[0].isspace():
            local, remote = [ENDPOINT.match(word) for word in line.split()[-2:]]
            assert local and remote, line
            subflows.append({"local": unmapped(local.group("address")), "dev": local.group("dev"),
                             "remote": unmapped(remote.group("address")), "info": ""})
        elif subflows:
            subflows[-1]["info"] += line
    for subflow in subflows:
        info = subflow.pop("info")
        flags = re.search(r"tcp-ulp-mptcp flags:(\S+)", info)
        subflow["mptcp_flags"] = flags.group(1) if flags else None
        minrtt = re.search(r"\bminrtt:([0-9.]+)", info)
        subflow["minrtt"] = float(minrtt.group(1)) if minrtt else None
    return subflows


def egress(lab, client, subflow):
    """The interface a subflow leaves by: the one it is bound to, else the route from its source."""
    if subflow["dev"]:
        return subflow["dev"]
    route = json.loads(lab.exec(client, ["ip", "-j", "route", "get", subflow["remote"], "from", subflow["local"]],
                                check=True).stdout)
    return route[0]["dev"]


def connection_subflows(planned, version, pairs, tmp_path):
    """One connection per (client, server) pair, all at once, each to the
    server's first address of that IP version and carrying data: {pair:
    (target, its subflows as the client sees them, read SETTLE seconds
    after all were established, its ss -M counters)}; both ends' byte
    counts must agree."""
    lab = planned.lab
    flows = {}
    for client, server in pairs:
        _port[0] += 1
        port = _port[0]
        receiver = HostProcess(lab, server, ["/usr/bin/python3", "-c", FLOW, "receive", version, port],
                               tmp_path / ("receiver-%d.log" % port))
        flows[client, server] = {"port": port, "target": planned.first_address(server, version), "receiver": receiver}
    for flow in flows.values():
        receiver = flow["receiver"]
        wait_for(lambda: "listening" in receiver.output or receiver.proc.poll() is not None, 30, "the receiver")
    for (client, server), flow in flows.items():
        flow["sender"] = HostProcess(lab, client, ["/usr/bin/python3", "-c", FLOW, "send", version, flow["port"],
                                                   flow["target"], RATE, SECONDS],
                                     tmp_path / ("sender-%d.log" % flow["port"]))
    for flow in flows.values():
        sender = flow["sender"]
        wait_for(lambda: "connected" in sender.output or sender.proc.poll() is not None, 30, "the connection")
    time.sleep(SETTLE)
    seen = {}
    for (client, server), flow in flows.items():
        where = "( dport = :%d )" % flow["port"]
        subflows = parse_subflows(lab.exec(client, ["ss", "-tniH", "state", "established", where], check=True).stdout)
        for subflow in subflows:
            subflow["egress"] = egress(lab, client, subflow)
        mptcp = lab.exec(client, ["ss", "-MniH", "state", "established", where]).stdout
        seen[client, server] = (flow["target"], subflows,
                                " ".join(w for w in mptcp.split() if w.startswith(("subflows:", "add_addr"))))
    for flow in flows.values():
        sender, receiver = flow["sender"], flow["receiver"]
        assert sender.wait(SECONDS + 60) == 0, sender.output
        assert receiver.wait(60) == 0, receiver.output
        sent, received = sender.report(), receiver.report()
        assert sent["bytes"] == received["bytes"] > 0, (sent, received)
    return seen


@pytest.fixture(scope="module", params=ORDER)
def planned(request, lab_factory, tmp_path_factory):
    case = request.param
    topology = CASES[case][0]
    lab = lab_factory("plan-%s" % topology, topology)
    if not lab.is_up:  # brought down after an earlier case of a -k selection
        lab.up()
    for link, delay_ms in DELAYS.get(case, {}).items():
        lab.delay(link, "%dms" % delay_ms)
    planned = Planned(case, lab, tmp_path_factory.mktemp("plan"))
    planned.converge()
    yield planned
    if not any(CASES[later][0] == topology for later in ORDER[ORDER.index(case) + 1:]):
        lab.down()
    else:
        for link in DELAYS.get(case, {}):
            lab.delay(link, "none")


def describe(subflow):
    return "%s%s -> %s%s" % (subflow["local"], "%" + subflow["dev"] if subflow["dev"] else "", subflow["remote"],
                             " (%s)" % subflow["mptcp_flags"] if subflow["mptcp_flags"] else "")


def round_trips(subflows):
    """Each subflow's minimum round trip, as ss shows it (ms)."""
    return ", ".join("%s %s ms" % (s["egress"], s["minrtt"]) for s in subflows)


def test_subflows_of_a_connection_are_the_planned_paths(planned, tmp_path):
    # a path from every client to every server
    pairs = {(client, path["server"]) for client in planned.clients for path in planned.plans[client]["paths"]}
    assert pairs == {(client, server) for client in planned.clients for server in planned.servers}, (
        sorted(pairs), {client: planned.plans[client] for client in planned.clients})
    several = len(planned.clients) * len(planned.servers) > 1
    for family, version in FAMILIES.items():
        # every client to every server the client's plan has a path to in this family
        paths = {(client, path["server"]): path for client in planned.clients
                 for path in planned.plans[client]["paths"] if path["family"] == family}
        if not paths:
            continue
        seen = connection_subflows(planned, version, list(paths), tmp_path)
        for (client, server), (target, subflows, counters) in seen.items():
            strategy = planned.plans[client]["strategy"]
            wanted = paths[client, server]["interfaces"]
            mine = [s for s in subflows if ipaddress.ip_address(s["local"]).version == version]
            other = [s for s in subflows if ipaddress.ip_address(s["local"]).version != version]
            connection = "%s%s to %s" % ("%s -> %s: " % (client, server) if several else "", family, target)
            TABLE.append({"case": planned.case, "strategy": strategy, "connection": connection,
                          "planned": wanted, "seen": [describe(s) for s in subflows], "counters": counters})
            note("%s, %s connection (strategy %s): planned one subflow on each of %s; seen %s [%s]; minrtt %s" % (
                planned.case, connection, strategy, ", ".join(wanted),
                ", ".join(describe(s) for s in subflows), counters, round_trips(subflows)))
            story = "%s %s: planned %s, seen %s" % (planned.case, connection, wanted, [describe(s) for s in subflows])
            server_addresses = {address for info in planned.links(server).values() for address in info["addresses"]}
            client_links = planned.links(client)
            # the connection really is MPTCP, to the server's addresses
            assert subflows and all(s["mptcp_flags"] for s in subflows), story
            assert all(s["remote"] in server_addresses for s in subflows), story
            # exactly one subflow per planned interface: the same interfaces, none twice
            assert sorted(s["egress"] for s in mine) == sorted(wanted), story
            # each leaves by the link its source address is on
            for subflow in subflows:
                owner = [name for name, info in client_links.items() if subflow["local"] in info["addresses"]]
                assert owner == [subflow["egress"]], "%s: %s leaves by %s" % (
                    story, describe(subflow), subflow["egress"])
            # the other family's subflows (an IPv6 connection takes IPv4 announcements): one per link at most
            assert len({s["egress"] for s in other}) == len(other), story
            # a delayed link's subflow waits its delay both ways, and not much longer
            for subflow in subflows:
                delay_ms = DELAYS.get(planned.case, {}).get(subflow["egress"])
                if delay_ms is not None:
                    assert 2 * delay_ms <= subflow["minrtt"] < 2 * delay_ms + 20, (
                        "%s: %s, minrtt %s ms" % (story, describe(subflow), subflow["minrtt"]))
            # backup where the plan says so, nowhere else ('b' local, 'B' the peer's request)
            for subflow in subflows:
                backup = bool(set(subflow["mptcp_flags"] or "") & set("bB"))
                assert backup == planned.planned_backup(subflow["egress"]), "%s: %s" % (story, describe(subflow))
    if planned.case in CONVERGE_TWICE:
        planned.converge_again()


@pytest.fixture(scope="module", autouse=True)
def print_table():
    """The table of the module's cases, at its end (also in docs/plan.md)."""
    yield
    lines = ["| case | strategy | connection | planned: one subflow on each of | seen (client: local%dev -> remote "
             "(ss flags)) | ss -M counters |", "| --- | --- | --- | --- | --- | --- |"]
    for row in TABLE:
        lines.append("| %s | %s | %s | %s | %s | %s |" % (
            row["case"], row["strategy"], row["connection"], ", ".join(row["planned"]),
            ", ".join("`%s`" % s for s in row["seen"]), row["counters"]))
    print("\n".join(["", "Subflows on the lab, per topology:"] + lines), flush=True)
