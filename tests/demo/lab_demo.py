"""make demo: the main job on a local lab.

Boots the seed's server and client as two systemd-nspawn machines joined by
two links (tests/lab), shapes each link to 20 Mbit/s so that one alone
cannot carry the transfer, runs playbooks/permanent.yml (seed 34.4) against
them, shows what the kernel now has, and runs playbooks/verify.yml: a real
MPTCP transfer whose report shows the subflows, the MPJoin counters and the
bytes each link carried. The lab is removed at the end."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
LAB = [sys.executable, os.path.join(ROOT, "tests", "lab", "mptcp-lab"), "--lab", "mptcp-demo"]
LINK_RATE = "20mbit"


def run(argv, **kwargs):
    print("\n$ " + " ".join(os.path.relpath(part, ROOT) if part.startswith(ROOT) else part for part in argv),
          flush=True)
    return subprocess.run(argv, check=True, **kwargs)


def playbook(name, *extra):
    inventory = "/run/mptcp-lab/mptcp-demo/inventory.yml"
    run([os.path.join(BIN, "ansible-playbook"), "-i", inventory, os.path.join(ROOT, "playbooks", name)] + list(extra))


def main():
    os.environ.setdefault("ANSIBLE_COLLECTIONS_PATH", os.path.join(ROOT, ".build", "collections"))
    os.environ["ANSIBLE_COLLECTIONS_SCAN_SYS_PATH"] = "true"  # community.docker's nsenter connection
    try:
        run(LAB + ["up", "--topology", "two-links"])
        # As a real client, the client has a default route (on link1), so
        # NetworkManager has already made a subflow endpoint for it.
        run(LAB + ["exec", "client", "--", "ip", "route", "show", "default"])
        run(LAB + ["exec", "client", "--", "ip", "mptcp", "endpoint", "show"])
        for link in ("link1", "link2"):
            run(LAB + ["shape", link, "--rate", LINK_RATE])
        playbook("permanent.yml")
        for host in ("server", "client"):
            run(LAB + ["exec", host, "--", "ip", "mptcp", "endpoint", "show"])
            run(LAB + ["exec", host, "--", "ip", "mptcp", "limits", "show"])
        playbook("verify.yml", "-e", "mptcp_verify_size=16M")
        print("\nThe report above: one MPTCP connection, its additional subflows, the MPJoin counters "
              "and the bytes each of the client's links sent (each link is limited to %s)." % LINK_RATE)
    finally:
        run(LAB + ["down"])


if __name__ == "__main__":
    try:
        main()
    except subprocess.CalledProcessError as exc:
        # the failing step's own output is above; no Python traceback
        sys.exit("make demo: this step failed (exit status %d): %s" % (exc.returncode, " ".join(exc.cmd)))
