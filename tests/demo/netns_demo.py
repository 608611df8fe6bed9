"""make demo (network namespace edition): two namespaces joined by two
shaped links play the seed's server and client; ansible-playbook configures
MPTCP on them with the collection's modules; a real MPTCP transfer then runs
and the demo prints the subflows, the MPJoin counters and the bytes each
link carried. Everything is removed at the end."""

import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from netns_lab import NetnsPair, transfer_argv  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(HERE))
# The seed's 34.3 playbook, run against two namespaces that stand in for hosts.
PLAYBOOK = os.path.join(ROOT, "playbooks", "temporary.yml")
# make links the checkout there as ansible_collections/mptcp/multipath
os.environ.setdefault("ANSIBLE_COLLECTIONS_PATH", os.path.join(ROOT, ".build", "collections"))
LINK_RATE = "20mbit"
TRANSFER_SIZE = "8M"


def ansible_playbook(inventory):
    venv_bin = os.path.dirname(sys.executable)
    subprocess.run([os.path.join(venv_bin, "ansible-playbook"), "-i", inventory, PLAYBOOK], check=True)


def wait_for_file(path, process, seconds=10):
    deadline = time.monotonic() + seconds
    while not os.path.exists(path):
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("the receiver did not start: %s" % process.stderr.read())
        time.sleep(0.05)


def counters(lab, namespace):
    output = lab.exec(namespace, ["nstat", "-a", "-z", "-j", "MPTcp*"]).stdout
    return json.loads(output)["kernel"]


def main():
    with NetnsPair(prefix="mptcp-demo", links=2, rate=LINK_RATE) as lab, tempfile.TemporaryDirectory() as tmp:
        print("== namespaces %s (server) and %s (client), two links shaped to %s each"
              % (lab.server, lab.client, LINK_RATE))
        ansible_playbook(lab.inventory(os.path.join(tmp, "inventory.json"), sys.executable))

        server_address = lab.links[0][1].split("/", maxsplit=1)[0]
        before = lab.link_bytes(lab.client)
        ready = os.path.join(tmp, "ready")
        receiver = lab.spawn(lab.server, transfer_argv(sys.executable, "receive", "--bind", "0.0.0.0",
                                                       "--ready-file", ready))
        wait_for_file(ready, receiver)
        sender = lab.spawn(lab.client, transfer_argv(sys.executable, "send", "--connect", server_address,
                                                     "--bytes", TRANSFER_SIZE, "--linger", "1"))
        time.sleep(1.0)
        print("\n== ss -Mni on the client during the transfer")
        print(lab.exec(lab.client, ["ss", "-Mni"]).stdout)
        print("== subflows of that connection (ss -ti, one line per TCP subflow)")
        print(lab.exec(lab.client, ["ss", "-Hnt", "state", "established"]).stdout)
        sender_out = sender.communicate(timeout=60)[0]
        receiver_out = receiver.communicate(timeout=60)[0]
        after = lab.link_bytes(lab.client)

        print("== transfer:", sender_out.strip(), receiver_out.strip())
        client_counters, server_counters = counters(lab, lab.client), counters(lab, lab.server)
        print("== MPJoin counters: client %s, server %s" % (
            {key: value for key, value in client_counters.items() if "Join" in key and value},
            {key: value for key, value in server_counters.items() if "Join" in key and value}))
        print("== bytes each client link sent during the transfer")
        client_devs = [link[2] for link in lab.links]
        for dev in client_devs:
            print("   %-9s %10d bytes" % (dev, after[dev]["tx"] - before[dev]["tx"]))
        used = [dev for dev in client_devs if after[dev]["tx"] - before[dev]["tx"] > 1024 * 1024]
        if len(used) < 2 or not server_counters.get("MPTcpExtMPJoinAckRx"):
            raise SystemExit("demo failed: the transfer did not use both links")
        print("\nMPTCP carried the transfer over %d links." % len(used))


if __name__ == "__main__":
    main()
