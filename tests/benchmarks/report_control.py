"""The control-plane part of docs/benchmarks/README.md (report.py calls it):
where a run's time goes (per run and per task), the targets of issue 23,
and the fleet model with its constants, all from results-control.json."""

import math
import statistics

RUN_KEYS = ("permanent first", "permanent re-run", "permanent check", "commands first")
RUN_NAMES = {"permanent first": "permanent.yml, first converge", "permanent re-run": "permanent.yml, no-op re-run",
             "permanent check": "permanent.yml --check --diff (converged)", "commands first": "seed commands"}
# Targets (issue 23), as ratios of the medians in one run on the same lab.
TARGETS = (("permanent first", "commands first", 1.2), ("permanent re-run", "commands first", 0.8),
           ("permanent check", "permanent re-run", 1.0))
FLEETS = (100, 1000, 10000)
# Controllers the model is written out for: (cores, forks).
CONTROLLERS = ((2, 16), (8, 50), (16, 100))


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def counts_of(results):
    return sorted((c for c in results if c.isdigit()), key=int)


def cpu(entry, key, name):
    return med([run[name] for run in entry.get("cpu", {}).get(key, [])])


def constants(results, count, key):
    """Per host, from one host count's runs of one kind: the controller's CPU
    seconds (all of this machine's minus the modules' on the hosts), the
    ansible-playbook process's own (serial), the modules' CPU on the host, the
    remote chain (sum over tasks of a host's median task time) and the tasks."""
    entry, n = results[count], int(count)
    tree, main, remote = (cpu(entry, key, name) for name in ("cpu_tree", "cpu_main", "cpu_remote"))
    profile = entry.get("profiles", {}).get(key)
    if tree is None or profile is None:
        return None
    chain = sum(task["host_seconds"] or 0 for task in profile["tasks"])
    modules = sum(m["runs"] for m in entry["cpu"][key][0]["remote_modules"].values()) / n
    return {"hosts": n, "wall": med(entry[key]), "lab": tree / n, "controller": (tree - remote) / n,
            "main": main / n, "remote": remote / n, "chain": chain, "tasks": len(profile["tasks"]),
            "modules": modules}


def model_constants(results, key):
    """The model's constants for one kind of run: CPU per host from the most
    hosts (the controller busiest), a host's chain from the fewest (a host's
    own latency, before the hosts wait for the controller's cores)."""
    counts = counts_of(results)
    top, small = constants(results, counts[-1], key), constants(results, counts[0], key)
    if not top or not small:
        return None
    return dict(top, chain=small["chain"], chain_hosts=small["hosts"])


def model_time(k, hosts, cores, forks, per_host="controller", base=0.0):
    """T(N) = T0 + max(N x main, N x c / C, ceil(N / F) x chain): the
    serial ansible-playbook process, the controller's CPU over its cores,
    or the hosts' own chain of tasks, whichever is the limit."""
    return base + max(hosts * k["main"], hosts * k[per_host] / cores, math.ceil(hosts / forks) * k["chain"])


def run_rows(results):
    rows = ["| hosts | run | wall, s | CPU of the run, s | of it ansible-playbook itself, s | of it the modules on the "
            "hosts, s | controller CPU per host, s | module runs per host | load average (1 min) |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for count in counts_of(results):
        for key in RUN_KEYS:
            k = constants(results, count, key)
            if not k:
                continue
            rows.append("| %s | %s | %.1f | %.1f | %.1f | %.1f | %.2f | %.1f | %s |" % (
                count, RUN_NAMES[key], k["wall"], k["lab"] * k["hosts"], k["main"] * k["hosts"],
                k["remote"] * k["hosts"], k["controller"], k["modules"],
                "%.1f" % med(results[count].get("load", [])) if results[count].get("load") else "-"))
    return rows


def task_rows(results, count, keys=("permanent first", "permanent re-run", "permanent check")):
    """One row per task of the role's runs on ``count`` hosts."""
    profiles = results[count].get("profiles", {})
    rows = ["| run | task | module | hosts ok / changed / skipped | a host's time, s (median) | task wall, s "
            "| ansible-playbook CPU, s | CPU of the run, s |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for key in keys:
        if key not in profiles:
            continue
        for task in profiles[key]["tasks"]:
            statuses = task["statuses"]
            rows.append("| %s | %s | %s | %d / %d / %d | %s | %.2f | %.2f | %.2f |" % (
                key.replace("permanent ", ""), task["name"].replace("|", "/"), task["action"].split(".")[-1],
                statuses.get("ok", 0), statuses.get("changed", 0), statuses.get("skipped", 0),
                "%.3f" % task["host_seconds"] if task["host_seconds"] is not None else "-", task["wall"],
                task["cpu_main"], task["cpu_tree"]))
    return rows


def target_rows(results, misses):
    rows = ["| hosts | what | ratio of the medians | target |", "| --- | --- | --- | --- |"]
    summary = []
    for count in counts_of(results):
        entry = results[count]
        for key, reference, target in TARGETS:
            if not entry.get(key) or not entry.get(reference):
                continue
            ratio = med(entry[key]) / med(entry[reference])
            what = "%s / %s" % (RUN_NAMES[key], RUN_NAMES[reference])
            rows.append("| %s | %s | %.2fx | <= %.1fx |" % (count, what, ratio, target))
            summary.append((count, what, ratio, target))
            if ratio > target:
                misses.append("control plane %s hosts: %s is %.2fx, target <= %.1fx (cause: the per-task table and "
                              "docs/benchmarks/notes.md)" % (count, what, ratio, target))
    return rows, summary


def model_lines(results, data):
    counts = counts_of(results)
    if not counts:
        return []
    top = counts[-1]
    lines = ["### Fleet model", "",
             "A run of the linear strategy spends its time in three places, and the largest decides: the "
             "ansible-playbook process itself (one thread: strategy, variables, templating of results, callbacks), "
             "the controller's CPU for each host (forked workers, connections, module payloads) spread over its C "
             "cores, and the chain of tasks each host runs one after the other (a batch of F hosts at a time):", "",
             "    T(N) = T0 + max( N * m ,  N * c / C ,  ceil(N / F) * r )", "",
             "m: ansible-playbook CPU per host; c: controller CPU per host; r: a host's chain (the sum of its task "
             "times); T0: the start (inventory, plugins). On this lab the modules run on the controller's own "
             "cores, so c_lab adds the modules' CPU; on a fleet it stays on the hosts. CPU per host measured at %s "
             "hosts, r at %s (per host, seconds):" % (top, counts[0]), "",
             "| run | m | c (fleet) | c_lab | modules on the host | r | tasks | module runs |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for key in RUN_KEYS:
        k = model_constants(results, key)
        if k:
            lines.append("| %s | %.3f | %.3f | %.3f | %.3f | %.2f | %d | %.1f |" % (
                RUN_NAMES[key], k["main"], k["controller"], k["lab"], k["remote"], k["chain"], k["tasks"],
                k["modules"]))
    lines += ["", "Checked against the measurements (lab: F = 16, c_lab; T0 from the %s-host run's wall minus its "
              "model term). The machine was shared with other jobs during the runs (the load average column "
              "above), so the model is given with its 2 cores and with the cores the run really got (the run's "
              "CPU over its wall):" % counts[0], "",
              "| run | hosts | measured, s | model, C = 2, s | cores the run got | model with those, s |",
              "| --- | --- | --- | --- | --- | --- |"]
    for key in RUN_KEYS:
        k = model_constants(results, key)
        small = constants(results, counts[0], key)
        if not k or not small:
            continue
        base = max(0.0, small["wall"] - model_time(k, small["hosts"], 2, 16, "lab"))
        for count in counts:
            measured = constants(results, count, key)
            if measured:
                got = measured["lab"] * measured["hosts"] / measured["wall"]
                lines.append("| %s | %s | %.1f | %.1f | %.2f | %.1f |" % (
                    RUN_NAMES[key], count, measured["wall"], model_time(k, int(count), 2, 16, "lab", base), got,
                    model_time(k, int(count), got, 16, "lab", base)))
    check = data.get("model_check") or {}
    if any(counts_of(check)):
        lines += ["", "Checked on more hosts than the model was fitted with (a run of its own, not in the tables above):",
                  "", "| run | hosts | measured, s | model, C = 2, s | cores the run got | model with those, s |",
                  "| --- | --- | --- | --- | --- | --- |"]
        for count in counts_of(check):
            for key in RUN_KEYS:
                k, small, measured = model_constants(results, key), constants(results, counts[0], key), \
                    constants(check, count, key)
                if not k or not small or not measured:
                    continue
                base = max(0.0, small["wall"] - model_time(k, small["hosts"], 2, 16, "lab"))
                got = measured["lab"] * measured["hosts"] / measured["wall"]
                lines.append("| %s | %s | %.1f | %.1f | %.2f | %.1f |" % (
                    RUN_NAMES[key], count, measured["wall"], model_time(k, int(count), 2, 16, "lab", base), got,
                    model_time(k, int(count), got, 16, "lab", base)))
    lines += ["", "Predicted for fleets (c for fleet hosts, T0 left out; minutes):", "",
              "| run | controller | " + " | ".join("%d hosts" % n for n in FLEETS) + " |",
              "| --- | --- | " + " | ".join("---" for _n in FLEETS) + " |"]
    for key in ("permanent first", "permanent re-run", "permanent check", "commands first"):
        k = model_constants(results, key)
        if not k:
            continue
        for cores, forks in CONTROLLERS:
            lines.append("| %s | %d cores, %d forks | %s |" % (RUN_NAMES[key], cores, forks, " | ".join(
                "%.1f" % (model_time(k, n, cores, forks) / 60) for n in FLEETS)))
    lines += ["", "AWX job slicing runs S slices of N / S hosts as S jobs; on E execution nodes of C cores each "
              "(S <= E) a job takes T(N / S) on its node: 1,000 hosts in 4 slices on 4 nodes of 8 cores, forks 50, "
              "take T(250). Each slice is its own play, so the plan sees only the hosts of its slice: keep a server "
              "and its clients in one slice (e.g. one inventory group a slice), or their plans differ from one "
              "playbook run over all of them.", ""]
    return lines


def advice_lines(advice, results):
    if not advice:
        return []
    return ["### Figures for the README's advice", "",
            "On %d converged hosts: the no-op re-run takes %.1f s with forks 16 and %.1f s with forks 4; "
            "a play that only gathers facts takes %.1f s; one module task (mptcp_sysctl) runs %.1f connection "
            "commands per host without pipelining (community.docker.nsenter has none), %.3f s each here "
            "(ssh with pipelining: one per task)." % (
                advice["hosts"], advice["re-run forks 16"], advice["re-run forks 4"], advice["gather_facts"],
                advice["execs per module task"], advice["exec seconds"]), ""]


def baseline_rows(data):
    """The same runs before the change (data["baseline"]: results of an earlier commit, same lab and
    host counts) against now: what the change saved."""
    base = data.get("baseline")
    if not base:
        return []
    rows = ["Before and after, on the same lab (before: commit %s, %s, load average %s; after: this run): wall, "
            "the run's CPU, module runs per host and the ratio to the seed's commands of the same run." % (
                base["commit"], base["date"], "-".join("%.1f" % v for v in base["load"])), "",
            "| hosts | run | wall, s | CPU of the run, s | module runs per host | / seed commands |",
            "| --- | --- | --- | --- | --- | --- |"]
    for count in counts_of(data["results"]):
        if count not in base["results"]:
            continue
        for key in RUN_KEYS[:3]:
            before, after = constants(base["results"], count, key), constants(data["results"], count, key)
            if not before or not after:
                continue
            ratio = [med(results[count][key]) / med(results[count]["commands first"])
                     for results in (base["results"], data["results"])]
            rows.append("| %s | %s | %.1f -> %.1f | %.1f -> %.1f | %.1f -> %.1f | %.2fx -> %.2fx |" % (
                count, RUN_NAMES[key], before["wall"], after["wall"], before["lab"] * before["hosts"],
                after["lab"] * after["hosts"], before["modules"], after["modules"], ratio[0], ratio[1]))
    return rows + [""]


def control_section(data, misses):
    """The lines for docs/benchmarks/README.md, and the summary rows for the main README."""
    results = data["results"]
    counts = counts_of(results)
    if not counts or not any(results[c].get("cpu") for c in counts):
        return [], []
    lines = ["### Where the time goes", "",
             "Every run is profiled: the benchmark's own callback plugin (`bench_profile`, beside "
             "`tests/benchmarks/bench.py` in the repository) times each task on each host and reads the CPU of ansible-playbook (getrusage "
             "at each task start); the CPU of the whole run is that of its process tree; the modules' CPU on the "
             "hosts comes from an interpreter wrapper on each host (bash `times` around python3). On this lab the "
             "hosts' modules run on the same 2 cores: *controller CPU per host* is the run's CPU minus the "
             "modules', divided by the hosts.", ""] + run_rows(results) + [""] + baseline_rows(data)
    top = counts[-1]
    lines += ["Per task on %s hosts (first run of each kind): *a host's time* is from the task's start on that "
              "host to its result (the median over hosts); *task wall* is from the task's start to the next "
              "task's; the CPU columns are charged to the task during which they were spent." % top, ""]
    lines += task_rows(results, top) + [""]
    rows, summary = target_rows(results, misses)
    lines += ["### Targets (issue 23)", ""] + rows + [""]
    lines += model_lines(results, data)
    lines += advice_lines(data.get("advice"), results)
    # the main README keeps the most hosts' rows; every count is in docs/benchmarks
    summary_rows = ["| control plane %s hosts: %s | %.2fx | <= %.1fx |" % row for row in summary if row[0] == top]
    return lines, summary_rows
