"""A link flap under a running transfer (issue 8, item 3), for the
NetworkManager backend (permanent.yml) and the runtime backend
(temporary.yml), each on a lab of its own: link2 goes down long enough for
NetworkManager to deactivate it and comes back, while a paced transfer runs;
the data must arrive intact (sha256 end to end), the wanted endpoints must
come back, a converge afterwards must find the hosts in their converged
state, and a new connection must get as many subflows as before.

The other faults (state reset behind the collection's back, hand edits,
NetworkManager stopped or restarted, runs at once, killed runs) are in
test_faults.py, whose Converged keeps the converged state here too."""

import json
import time

import pytest

from _fault_support import PERMANENT, TEMPORARY, HostProcess, changed_tasks, flow_argv, snapshot, state
from conftest import findings
from mptcp_lab.util import wait_for
from test_faults import HOSTS, Converged, unchanged

NM_LAB = "sys-faults-flap"
RUNTIME_LAB = "sys-faults-rt"
# NetworkManager deactivates a profile after about 5 s without carrier; a
# shorter flap would leave its addresses and endpoints in place.
FLAP_DOWN_SECONDS = 7
FLOW_BYTES = 16 << 20
FLOW_RATE = 1 << 20  # bytes/s: the transfer spans the whole flap

note, print_report = findings("FAULT", "link flap findings")


@pytest.fixture(scope="module")
def nm(lab_factory):
    """permanent.yml (the NetworkManager backend) converged on a two-link lab."""
    lab = lab_factory(NM_LAB)
    converged = Converged(lab, PERMANENT)
    converged.converge(what="first converge")
    yield converged
    lab.down()


def flap_under_transfer(converged, link, tmp_path, port):
    """A paced transfer client -> server's first address while `link` goes
    down long enough for NetworkManager to deactivate it, and comes back.
    Returns (sender report, receiver report, time of link up, seconds until
    the wanted endpoints were back)."""
    lab = converged.lab
    server_address = lab.hostvars("server")["mptcp_links"][0]["address"]
    receiver = HostProcess(lab, "server", flow_argv("receive", port, deadline=90), tmp_path / "receiver.log")
    wait_for(lambda: "listening" in receiver.output or receiver.proc.poll() is not None, 30, "the receiver")
    sender = HostProcess(lab, "client", flow_argv("send", server_address, port, FLOW_BYTES, FLOW_RATE, deadline=90),
                         tmp_path / "sender.log")
    time.sleep(2)  # subflows up and data flowing before the flap
    link_down = time.monotonic()
    lab.link(link, "down")
    time.sleep(FLAP_DOWN_SECONDS)
    gone = {host: json.loads(lab.exec(host, ["ip", "-j", "mptcp", "endpoint", "show"], check=True).stdout)
            for host in HOSTS}
    link_up = time.monotonic()
    lab.link(link, "up")

    def endpoints_back():
        for host in HOSTS:
            listed = json.loads(lab.exec(host, ["ip", "-j", "mptcp", "endpoint", "show"], check=True).stdout)
            now = state({"endpoints": listed})["endpoints"]
            if not all(endpoint in now for endpoint in converged.wanted[host]["endpoints"]):
                return False
        return True

    wait_for(endpoints_back, 60, "the wanted endpoints after the flap", interval=0.2)
    endpoints_seconds = time.monotonic() - link_up
    assert sender.wait(120) == 0, sender.output
    assert receiver.wait(120) == 0, receiver.output
    sent, received = sender.report(), receiver.report()
    assert sent["bytes"] == received["bytes"] == FLOW_BYTES, (sent, received)
    assert sent["sha256"] == received["sha256"], (sent, received)
    return sent, received, link_down, link_up, endpoints_seconds, gone


def subflow_story(samples, link_down, link_up):
    """(subflows before the flap, fewest during, seconds after link up until
    the count was back to the one before or None, most after link up)."""
    before = max([n for t, n in samples if t < link_down] or [0])
    during = min([n for t, n in samples if link_down <= t < link_up] or [before])
    after = [(t, n) for t, n in samples if t >= link_up]
    back = next((round(t - link_up, 2) for t, n in after if n >= before), None)
    return before, during, back, max([n for t, n in after] or [0])


def new_connection_subflows(lab, tmp_path, port):
    """Most additional subflows of a fresh 4 MiB transfer (they join in well under a second)."""
    server_address = lab.hostvars("server")["mptcp_links"][0]["address"]
    receiver = HostProcess(lab, "server", flow_argv("receive", port, deadline=60), tmp_path / "new-receiver.log")
    wait_for(lambda: "listening" in receiver.output or receiver.proc.poll() is not None, 30, "the receiver")
    sender = HostProcess(lab, "client", flow_argv("send", server_address, port, 4 << 20, 4 << 20, deadline=60),
                         tmp_path / "new-sender.log")
    assert sender.wait(90) == 0 and receiver.wait(90) == 0, (sender.output, receiver.output)
    sent, received = sender.report(), receiver.report()
    assert sent["sha256"] == received["sha256"]
    return max(n for t, n in sent["samples"])


def test_link_flap_networkmanager_backend(nm, tmp_path):
    nm.ensure()
    lab = nm.lab
    sent, received, link_down, link_up, endpoints_seconds, gone = flap_under_transfer(nm, "link2", tmp_path, 7101)
    for host in HOSTS:  # NetworkManager really took link2's endpoint away during the flap
        assert all(e.get("dev") != "link2" for e in gone[host]), gone
    before, during, back, most = subflow_story(sent["samples"], link_down, link_up)
    assert before >= 1 and during < before, sent["samples"]
    assert most >= 1, "no subflow came back on the running connection: %s" % sent["samples"]
    # NetworkManager restored everything by itself: the converge has nothing to do
    result = nm.converge(what="after the flap")
    assert unchanged(result), changed_tasks(result.output)
    fresh = new_connection_subflows(lab, tmp_path, 7102)
    assert fresh == before, "a new connection after the flap has %d subflows, before it %d" % (fresh, before)
    note("link2 flap, NetworkManager backend: %d MiB intact (sha256 %s...), endpoints back %.1f s after link up, "
         "running connection subflows %d -> %d -> %s (back to %d after %s s), new connection %d, converge changed 0"
         % (FLOW_BYTES >> 20, sent["sha256"][:12], endpoints_seconds, before, during, most, before, back, fresh))


@pytest.fixture(scope="module")
def runtime(lab_factory):
    """temporary.yml (the runtime backend, seed 34.3) converged on a lab of its own."""
    lab = lab_factory(RUNTIME_LAB)
    converged = Converged(lab, TEMPORARY)
    converged.converge(what="first converge of temporary.yml")
    # the plan through netlink: the server announces both links' addresses, the client takes one per link (laminar,
    # which iproute2 6.1 prints as rawflags 20)
    server, client = converged.wanted["server"], converged.wanted["client"]
    assert [(e["address"], e.get("signal"), e.get("dev")) for e in server["endpoints"]] == \
        [(link["address"], True, link["interface"]) for link in lab.hostvars("server")["mptcp_links"]], server["endpoints"]
    assert client["limits"] == {"subflows": 1, "add_addr_accepted": 1}
    assert [(e["address"], e.get("rawflags"), e.get("dev")) for e in client["endpoints"]] == \
        [(link["address"], "20", link["interface"]) for link in lab.hostvars("client")["mptcp_links"]], client["endpoints"]
    yield converged
    lab.down()


def test_link_flap_runtime_backend(runtime, tmp_path):
    runtime.ensure()
    lab = runtime.lab
    sent, received, link_down, link_up, endpoints_seconds, gone = flap_under_transfer(runtime, "link2", tmp_path, 7201)
    before, during, back, most = subflow_story(sent["samples"], link_down, link_up)
    assert before >= 1, sent["samples"]
    drift = {host: [e for e in state(snapshot(lab, host))["endpoints"] if e not in runtime.wanted[host]["endpoints"]]
             for host in HOSTS}
    note("link2 flap, runtime backend: %d MiB intact (sha256 %s...), wanted endpoints present %.1f s after link up, "
         "running connection subflows %d -> %d -> %s (back to %d after %s s); endpoints beside the converged "
         "ones after the flap %s"
         % (FLOW_BYTES >> 20, sent["sha256"][:12], endpoints_seconds, before, during, most, before, back, drift))
    result = runtime.converge(what="after the flap (runtime backend)", rerun=True)
    fresh = new_connection_subflows(lab, tmp_path, 7202)
    assert fresh == before, "a new connection after the flap has %d subflows, before it %d" % (fresh, before)
    note("runtime backend after the flap: the converge changed %s; a new connection has %d subflows"
         % (changed_tasks(result.output), fresh))
