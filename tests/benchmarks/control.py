"""The control-plane section of the benchmark (bench.py --sections control):
what running the collection costs the controller, per host and per task.

  permanent.yml on 2, 8, 16 (32) fresh nspawn hosts: the first converge, a
  no-op re-run and `--check --diff` on the converged hosts, beside the seed's
  34.4 commands as plain command tasks on the same hosts. Every run is
  profiled by callback_plugins/bench_profile.py (per task: wall time per
  host, the controller's CPU) and by the CPU of the module processes on the
  hosts (an interpreter wrapper that logs each module's user + system time),
  so that the controller's share can be told from the hosts'.

Also here, run on the aggregation section's lab: each module's task time
against a command task doing the same (per_task), the pyroute2 import.
"""

import json
import os
import shlex
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from common import ROOT, BenchError, Lab, LabRun, log

HERE = Path(__file__).resolve().parent
# On every host: the module's interpreter, run through bash so that `times`
# gives the module process's CPU (its children, e.g. nmcli or ip, included).
CPU_LOG = "/var/tmp/bench-cpu.log"
WRAPPER = "/usr/local/bin/bench-python"
WRAPPER_TEXT = """#!/bin/bash
/usr/bin/python3 "$@"
rc=$?
{ printf '%%s\\n' "${1##*/}"; times; } >> %s
exit $rc
""" % CPU_LOG
PROFILE_ENV = {"ANSIBLE_CALLBACK_PLUGINS": str(HERE / "callback_plugins"), "ANSIBLE_CALLBACKS_ENABLED": "bench_profile"}

COMMAND_PLAYBOOK = """\
# A reference, not the collection's plan: the seed's section 34.4 commands
# as a person types them on every host, as plain command tasks (the sysctl
# file, the limits unit with `subflows` the number of links, and the one
# flag set the seed gives every profile). They do not give the endpoints
# or limits permanent.yml plans (the seed's flags open a second subflow on a
# link, docs/plan.md); they are here for what the same kind of work costs
# when done by commands.
- name: Seed 34.4 as the seed's commands
  hosts: mptcp_servers:mptcp_clients
  gather_facts: false
  vars:
    paths: "{{ mptcp_links | length }}"
    seed_flags: signal,subflow,also-without-default-route
  tasks:
    - name: Write the sysctl file
      ansible.builtin.command: sh -c 'echo "net.mptcp.enabled=1" > /etc/sysctl.d/90-enable-MPTCP.conf'
    - name: Apply it
      ansible.builtin.command: sysctl -p /etc/sysctl.d/90-enable-MPTCP.conf
    - name: Write the limits unit
      ansible.builtin.command:
        argv:
          - sh
          - -c
          - |
            cat > /etc/systemd/system/set_mptcp_limit.service <<EOF
            [Unit]
            Description=Set MPTCP subflow limit
            After=network.target
            [Service]
            Type=oneshot
            RemainAfterExit=yes
            ExecStart=ip mptcp limits set subflows {{ paths }}
            [Install]
            WantedBy=multi-user.target
            EOF
    - name: Reload systemd
      ansible.builtin.command: systemctl daemon-reload
    - name: Enable and start the unit
      ansible.builtin.command: systemctl enable --now set_mptcp_limit
    - name: Set the profiles' MPTCP flags
      ansible.builtin.command: nmcli connection modify {{ item.interface }} connection.mptcp-flags {{ seed_flags }}
      loop: "{{ mptcp_links }}"
    - name: Apply them now
      ansible.builtin.command: nmcli device reapply {{ item.interface }}
      loop: "{{ mptcp_links }}"
"""

PAIRS = [
    ("mptcp_sysctl", "mptcp.multipath.mptcp_sysctl:\n        name: net.mptcp.enabled\n        value: 1",
     "ansible.builtin.command: sysctl -w net.mptcp.enabled=1"),
    ("mptcp_limits", "mptcp.multipath.mptcp_limits:\n        subflows: 2\n        add_addr_accepted: 1",
     "ansible.builtin.command: ip mptcp limits set subflows 2 add_addr_accepted 1"),
    ("mptcp_endpoint add", "mptcp.multipath.mptcp_endpoint:\n        address: 192.0.2.99\n        id: 99\n"
     "        dev: link1\n        flags: [signal]",
     "ansible.builtin.command: ip mptcp endpoint add 192.0.2.99 id 99 dev link1 signal"),
    ("mptcp_endpoint remove", "mptcp.multipath.mptcp_endpoint:\n        address: 192.0.2.99\n        state: absent",
     "ansible.builtin.command: ip mptcp endpoint delete id 99"),
    ("mptcp_info", "mptcp.multipath.mptcp_info:\n        gather: [endpoints]",
     "ansible.builtin.command: ip -j mptcp endpoint show"),
    ("mptcp_nm_profile", "mptcp.multipath.mptcp_nm_profile:\n        interface: link2\n        flags: \"{{ flags }}\"",
     "ansible.builtin.command: nmcli connection modify link2 connection.mptcp-flags {{ flags | join(',') }}"),
]


def per_task(args, lab):
    """Each module next to the command task doing the same, repeated, on both
    hosts of the two-links lab (configured by permanent.yml)."""
    repeats = 1 if args.smoke else args.runs
    tasks = []
    for number in range(repeats):
        # The endpoint's add and remove go together, so each kind finds it absent before adding it.
        for unit in (PAIRS[0:1], PAIRS[1:2], PAIRS[2:4], PAIRS[4:5], PAIRS[5:6]):
            # Alternate which goes first, so neither always follows the other.
            for kind in (("module", "command") if number % 2 == 0 else ("command", "module")):
                for name, module, command in unit:
                    body = module if kind == "module" else command
                    tasks.append("    - name: \"%s | %s | %d\"\n      %s\n" % (name, kind, number, body))
    # The profile pair writes link2's profile flags as the role's plan left
    # them (read first, not computed here): both kinds set the same value.
    text = ("- name: Per-task cost\n  hosts: mptcp_servers:mptcp_clients\n  gather_facts: false\n"
            # nmcli shows them as "connection.mptcp-flags:  0x18 (signal,also-without-default-route)"
            "  vars:\n    flags: \"{{ planned_flags.stdout.split('(')[-1].strip().rstrip(')').split(',') | map('trim') | list }}\"\n"
            "  pre_tasks:\n    - name: \"setup | read link2's profile flags\"\n"
            "      ansible.builtin.command: nmcli -f connection.mptcp-flags connection show link2\n"
            "      register: planned_flags\n      changed_when: false\n  tasks:\n"
            + "".join(tasks))
    with tempfile.TemporaryDirectory(prefix="bench-") as workdir:
        path = Path(workdir) / "per-task.yml"
        path.write_text(text)
        _seconds, _changed, output = lab.playbook(path, callback="ansible.posix.json")
    data = json.loads(output[output.index("{"):])
    times = {}
    for play in data["plays"]:
        for task in play["tasks"]:
            if task["task"]["name"].startswith("setup | "):
                continue
            name, kind, _number = task["task"]["name"].split(" | ")
            duration = task["task"]["duration"]
            seconds = iso_seconds(duration["end"]) - iso_seconds(duration["start"])
            times.setdefault(name, {}).setdefault(kind, []).append(seconds)
    return times


def iso_seconds(text):
    from datetime import datetime
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def pyroute2_import(args, lab):
    code = "import time; t = time.perf_counter(); import pyroute2; pyroute2.MPTCP; print(time.perf_counter() - t)"
    figures = {"seconds": [], "python_start": [],
               "version": lab.sh("client", "dpkg-query -W -f '${Version}' python3-pyroute2").strip()}
    for _number in range(args.runs):
        figures["seconds"].append(float(lab.sh("client", "python3 -c %s" % shlex.quote(code))))
        started = time.monotonic()
        lab.sh("client", "python3 -c pass")
        figures["python_start"].append(time.monotonic() - started)
    return figures


# -- profiled runs ------------------------------------------------------------------
def host_root(lab, host):
    """The host's file system as this machine sees it (the nspawn leader's root)."""
    return Path("/proc/%s/root" % Lab(lab.name).runtime(host)["leader_pid"])


def install_cpu_wrapper(lab):
    for host in lab.hosts():
        wrapper = host_root(lab, host) / WRAPPER.lstrip("/")
        wrapper.write_text(WRAPPER_TEXT)
        wrapper.chmod(0o755)


def seconds_of(text):
    """bash's `times` figure, e.g. 0m0.031s."""
    minutes, seconds = text.rstrip("s").split("m")
    return int(minutes) * 60 + float(seconds)


def take_remote_cpu(lab):
    """{module: [CPU seconds of each run of it]} on every host since the last
    call (the log is emptied)."""
    modules = {}
    for host in lab.hosts():
        path = host_root(lab, host) / CPU_LOG.lstrip("/")
        if not path.exists():
            continue
        lines = path.read_text().splitlines()
        path.write_text("")
        # three lines a module run: its file name, the shell's times, its children's (the module)
        for name, _shell, children in zip(lines[0::3], lines[1::3], lines[2::3]):
            user, system = children.split()
            module = name.replace("AnsiballZ_", "").replace(".py", "")
            modules.setdefault(module, []).append(seconds_of(user) + seconds_of(system))
    return modules


def summarize(profile, hosts):
    """Per task of a bench_profile dump: what the report's table needs."""
    tasks = []
    for task in profile["tasks"]:
        seconds = [h["seconds"] for h in task["hosts"].values() if h["seconds"] is not None]
        statuses = {}
        for entry in task["hosts"].values():
            statuses[entry["status"]] = statuses.get(entry["status"], 0) + 1
        tasks.append({"name": task["name"], "action": task["action"], "kind": task["kind"],
                      "path": task["path"].replace(str(ROOT) + "/", ""), "wall": task["wall"],
                      "cpu_main": task["cpu_main"], "cpu_tree": task["cpu_tree"],
                      "host_seconds": statistics.median(seconds) if seconds else None,
                      "host_max": max(seconds) if seconds else None, "statuses": statuses})
    return {"hosts": hosts, "wall": profile["wall"], "cpu_main": profile["cpu_main"], "tasks": tasks}


def profiled(lab, path, extra=()):
    """One playbook run with its profile: wall, changed, the CPU of the whole
    process tree, of the ansible-playbook process, of the modules on the hosts."""
    take_remote_cpu(lab)
    with tempfile.TemporaryDirectory(prefix="bench-") as workdir:
        out = Path(workdir) / "profile.json"
        seconds, changed, _output = lab.playbook(path, extra=["-e", "ansible_python_interpreter=%s" % WRAPPER]
                                                 + list(extra), env=dict(PROFILE_ENV, BENCH_PROFILE_OUT=str(out)))
        profile = json.loads(out.read_text())
    remote = take_remote_cpu(lab)
    return {"seconds": seconds, "changed": changed, "cpu_tree": lab.last_cpu, "cpu_main": profile["cpu_main"],
            "cpu_remote": sum(sum(v) for v in remote.values()),
            "remote_modules": dict((name, {"runs": len(v), "cpu": sum(v)}) for name, v in remote.items()),
            "profile": summarize(profile, len(lab.hosts()))}


RUNS = (("permanent first", "permanent", ()), ("permanent re-run", "permanent", ()),
        ("permanent check", "permanent", ("--check", "--diff")), ("commands first", "commands", ()))


def control_run(args, lab, commands, advice=None):
    """The runs of RUNS on one lab; with ``advice`` (a dict), also
    advice_figures on the converged hosts, before the seed's commands
    change their profiles."""
    install_cpu_wrapper(lab)
    figures = {}
    for key, which, extra in RUNS:
        if args.smoke and key in ("permanent first", "permanent check"):
            continue  # the smoke run stays short: its aggregation part runs permanent.yml already
        if which == "commands" and advice is not None:
            advice.update(advice_figures(lab))
        path = ROOT / "playbooks" / "permanent.yml" if which == "permanent" else commands
        figures[key] = profiled(lab, path, extra)
    return figures


def control_plane(args, save, extra=None):
    """{host count: figures}; ``extra`` (a dict) receives the advice figures."""
    counts = [2] if args.smoke else args.hosts
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-") as workdir:
        commands = Path(workdir) / "seed-commands.yml"
        commands.write_text(COMMAND_PLAYBOOK)
        for count in counts:
            entry = results.setdefault(str(count), dict(
                [(key, []) for key, _which, _extra in RUNS]
                + [("re-run changed", []), ("check changed", []), ("boot", []), ("failures", []), ("cpu", {}),
                   ("profiles", {}), ("load", [])]))
            for number in range(1 if args.smoke else args.runs):
                # Fresh hosts for every first converge. The seed's commands run
                # on the same hosts afterwards: they do the same work either way.
                with LabRun("cp%d" % count, "hosts-%d" % count) as lab:
                    entry["boot"].append(lab.boot_seconds)
                    entry["load"].append(os.getloadavg()[0])
                    try:
                        # the README's advice, measured once on the most hosts
                        advice = {} if number == 0 and count == max(counts) and not args.smoke else None
                        figures = control_run(args, lab, commands, advice)
                        if advice and extra is not None:
                            extra["advice"] = advice
                    except BenchError as exc:
                        # Counted and shown, not hidden: the run's times are left out.
                        entry["failures"].append(str(exc).split("\n", 1)[0][:1500])
                        log("control plane %d hosts run %d failed: %s" % (count, number + 1, entry["failures"][-1]))
                        if args.smoke:
                            raise
                        continue
                    for key, figure in figures.items():
                        entry[key].append(figure["seconds"])
                        entry["cpu"].setdefault(key, []).append(dict(
                            (name, figure[name]) for name in ("cpu_tree", "cpu_main", "cpu_remote", "remote_modules")))
                        if number == 0:
                            entry["profiles"][key] = figure["profile"]
                    for key, changed in (("re-run changed", "permanent re-run"), ("check changed", "permanent check")):
                        if changed in figures:
                            entry[key].append(figures[changed]["changed"])
                    log("control plane %d hosts run %d: %s" % (count, number + 1, ", ".join(
                        "%s %.1f s (CPU %.1f s, main %.1f s, hosts' modules %.1f s)" % (
                            key, f["seconds"], f["cpu_tree"], f["cpu_main"], f["cpu_remote"])
                        for key, f in figures.items())))
                save(results)
    return results


GATHER_PLAYBOOK = """\
- name: Facts only (what gather_facts true costs a play)
  hosts: mptcp_servers:mptcp_clients
  gather_facts: true
  tasks: []
"""


def advice_figures(lab):
    """On the converged hosts of one lab, for the README's advice: the no-op
    re-run with 4 forks instead of 16; what gathering facts costs; how many
    connection commands one module task takes without pipelining (the lab's
    nsenter connection has none) and what each costs."""
    figures = {"hosts": len(lab.hosts())}
    permanent = ROOT / "playbooks" / "permanent.yml"
    figures["re-run forks 4"] = profiled(lab, permanent, ["--forks", "4"])["seconds"]
    figures["re-run forks 16"] = profiled(lab, permanent)["seconds"]
    with tempfile.TemporaryDirectory(prefix="bench-") as workdir:
        gather = Path(workdir) / "gather.yml"
        gather.write_text(GATHER_PLAYBOOK)
        figures["gather_facts"] = profiled(lab, gather)["seconds"]
        # -vvv names each command the connection runs (<host> EXEC ...)
        one = Path(workdir) / "one.yml"
        one.write_text("- hosts: mptcp_servers:mptcp_clients\n  gather_facts: false\n  tasks:\n"
                       "    - name: One module task\n      mptcp.multipath.mptcp_sysctl:\n"
                       "        name: net.mptcp.enabled\n        value: 1\n")
        seconds, _changed, output = lab.playbook(one, extra=["-vvv"])
    figures["one task seconds"] = seconds
    figures["execs per module task"] = output.count("> EXEC ") / max(len(lab.hosts()), 1)
    # one connection command as community.docker.nsenter runs it (a shell in every namespace of the host)
    leader = Lab(lab.name).runtime(lab.hosts()[0])["leader_pid"]
    started = time.monotonic()
    for _number in range(20):
        subprocess.run(["nsenter", "--target=%s" % leader, "--mount", "--uts", "--ipc", "--net", "--pid", "--",
                        "/bin/sh", "-c", "true"], check=True)
    figures["exec seconds"] = (time.monotonic() - started) / 20
    return figures
