"""mptcp-lab: real multi-NIC Debian hosts on this machine, for MPTCP tests.

    mptcp-lab [--lab NAME] up [--backend nspawn|qemu] [--topology two-links]
    mptcp-lab [--lab NAME] status | inventory | down
    mptcp-lab [--lab NAME] exec HOST [-- CMD...]     (no CMD: a login shell)
    mptcp-lab [--lab NAME] reboot HOST
    mptcp-lab [--lab NAME] link down|up LINK
    mptcp-lab [--lab NAME] shape LINK --rate 10mbit|none [--host HOST ...]
    mptcp-lab [--lab NAME] delay LINK --delay 10ms|none [--loss 1%] [--host HOST ...]
    mptcp-lab build-image [--image debian12]
"""

import argparse
import fcntl
import os
import re
import subprocess
import sys

from .image import Image
from .lab import Lab
from .util import LabError, log

LAB_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,39}$")


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="mptcp-lab", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lab", default=os.environ.get("MPTCP_LAB_NAME", "mptcp"),
                        help="lab name: several labs with different names can coexist")
    parser.add_argument("--state-dir", help="default /run/mptcp-lab/<lab>")
    verbs = parser.add_subparsers(dest="verb", required=True)

    up = verbs.add_parser("up", help="build the image if needed, boot and wire the hosts")
    up.add_argument("--backend", choices=["nspawn", "qemu"], default="nspawn")
    up.add_argument("--topology", default="two-links",
                    help="name in tests/lab/topologies/ or a path to a YAML file")
    up.add_argument("--image", default="debian12", help="recipe in tests/lab/images/")
    up.add_argument("--inventory-copy", action="append", default=[], metavar="PATH",
                    help="also keep the inventory at PATH (kept current, removed by down)")

    verbs.add_parser("down", help="stop every host, unplug, unmount, remove the state")
    verbs.add_parser("status", help="hosts, PIDs, links and timings")
    verbs.add_parser("inventory", help="print the Ansible inventory (YAML)")

    ex = verbs.add_parser("exec", help="run a command in a host (a shell without one)")
    ex.add_argument("host")
    ex.add_argument("command", nargs=argparse.REMAINDER)

    rb = verbs.add_parser("reboot", help="reboot a host for real (its systemd goes down)")
    rb.add_argument("host")

    ln = verbs.add_parser("link", help="take a link down or up (both ends)")
    ln.add_argument("action", choices=["down", "up"])
    ln.add_argument("link")

    sh = verbs.add_parser("shape", help="limit a link's rate with tbf on both ends")
    sh.add_argument("link")
    sh.add_argument("--rate", required=True, help="e.g. 10mbit; none removes the shaping")
    sh.add_argument("--host", action="append", dest="hosts",
                    help="only this host's end (repeatable; on a segment, the bridge's other ports stay unshaped)")

    dl = verbs.add_parser("delay", help="delay (one way) and lose the packets arriving on a link's ends")
    dl.add_argument("link")
    dl.add_argument("--delay", required=True, help="e.g. 10ms; none removes the delay and the loss")
    dl.add_argument("--loss", default="0%", help="share of the packets dropped, e.g. 1%% (default 0%%)")
    dl.add_argument("--host", action="append", dest="hosts",
                    help="only into this host (repeatable; default both ends: a round trip of twice the delay)")

    bi = verbs.add_parser("build-image", help="build (or find cached) the host image")
    bi.add_argument("--image", default="debian12")
    bi.add_argument("--vm", action="store_true", help="also make the qemu kernel/disk files")
    return parser.parse_args(argv)


def require_up(lab):
    if not lab.exists:
        raise LabError(f"lab {lab.name} is not up (no {lab.state_file})")


def main(argv=None):
    """The command line; the one place a LabError becomes a message and exit status 1."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        return run_verb(args)
    except LabError as exc:
        print(f"mptcp-lab: error: {exc}", file=sys.stderr)
        return 1


def run_verb(args):
    if os.geteuid() != 0:
        raise LabError("mptcp-lab needs root (namespaces, mounts, veth)")
    if args.verb == "build-image":
        image = Image(args.image)
        took = image.ensure()
        log(f"image {image.name}: {image.dir} ({'built in %.0f s' % took if took else 'cached'})")
        if args.vm:
            image.ensure_vm_files()
        return 0

    if not LAB_NAME_RE.match(args.lab):
        # it names machines (<lab>-<host>), which must be valid host names
        raise LabError(f"bad lab name {args.lab!r}: letters, digits and '-', at most 40")
    lab_for_lock = Lab(args.lab, args.state_dir)
    if args.verb not in ("status", "inventory", "exec"):
        # One changing command at a time per lab (state.json is rewritten).
        lock_dir = lab_for_lock.state_dir.parent
        lock_dir.mkdir(parents=True, exist_ok=True)
        lock = open(lock_dir / f".{lab_for_lock.state_dir.name}.lock", "w")
        fcntl.flock(lock, fcntl.LOCK_EX)
    lab = Lab(args.lab, args.state_dir)  # read the state under the lock
    if args.verb == "up":
        lab.up(args.topology, backend=args.backend, image=args.image,
               inventory_copies=args.inventory_copy)
        print(lab.status())
        return 0
    if args.verb == "down":
        lab.down()
        return 0
    require_up(lab)
    if args.verb == "status":
        print(lab.status())
    elif args.verb == "inventory":
        lab.write_inventory()
        sys.stdout.write(lab.inventory_path.read_text())
    elif args.verb == "exec":
        if args.host not in lab.state["hosts"]:
            raise LabError(f"no host {args.host!r}; hosts: {', '.join(lab.state['hosts'])}")
        command = args.command[1:] if args.command[:1] == ["--"] else args.command
        backend = lab.backend
        runtime = lab.runtime(args.host)
        argv = (backend.exec_argv(args.host, runtime, command) if command
                else backend.interactive_argv(args.host, runtime))
        return subprocess.call([str(a) for a in argv])
    elif args.verb == "reboot":
        lab.reboot(args.host)
    elif args.verb == "link":
        lab.set_link(args.link, args.action)
    elif args.verb == "shape":
        lab.shape(args.link, args.rate, hosts=args.hosts)
    elif args.verb == "delay":
        lab.delay(args.link, args.delay, loss=args.loss, hosts=args.hosts)
    return 0
