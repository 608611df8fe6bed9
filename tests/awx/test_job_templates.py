"""AWX / Automation Controller job templates, run by ansible-runner (make awx).

AWX runs a job by laying out a private data directory and handing it to
ansible-runner: the project checkout in project/, the inventory as a script
in inventory/hosts, the survey answers in env/extravars (a text field gives
a string, even for a number), the collections the project requires in
requirements_collections/ (put on the collections path), and
`--check` on the command line for a job of type "check" and `--limit` for a
job's Limit. These tests build exactly that around playbooks/permanent.yml,
playbooks/verify.yml and playbooks/disable.yml, with
the collection installed from its tarball, run the jobs against two lab
hosts (tests/lab) with the ansible-core of many execution environments
(2.16, this venv), and assert on runner's job events and on the hosts'
real state.

Run with .venv-core/2.16/bin/pytest (it has ansible-runner).
"""

import json
import os
import shutil
import subprocess
import sys

import ansible_runner
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
LAB_TOOL = os.path.join(ROOT, "tests", "lab", "mptcp-lab")
LAB = os.environ.get("MPTCP_TEST_LAB_PREFIX", "") + "awx"
# community.docker (the lab's nsenter connection) ships in the test venv's `ansible` package;
# an execution environment would reach its hosts over ssh instead.
COMMUNITY = next(os.path.join(ROOT, ".venv", "lib", name, "site-packages")
                 for name in os.listdir(os.path.join(ROOT, ".venv", "lib")) if name.startswith("python3"))
HOSTS = ("server", "client")
SYSCTL_FILE = "/etc/sysctl.d/90-enable-MPTCP.conf"
INVENTORY_SCRIPT = """#! /usr/bin/env python3
# -*- coding: utf-8 -*-
# Written the way AWX writes a job's inventory: a script that prints it.
print('''%s''')
"""


def lab(*args, check=True):
    result = subprocess.run([sys.executable, LAB_TOOL, "--lab", LAB] + list(args),
                            capture_output=True, text=True, check=False)
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def on_host(host, *command):
    return lab("exec", host, "--", *command).stdout


def host_state(host):
    """What the job must have changed, read on the host itself."""
    endpoints = json.loads(on_host(host, "ip", "-j", "mptcp", "endpoint", "show") or "[]")
    return {
        "enabled": on_host(host, "sysctl", "-n", "net.mptcp.enabled").strip(),
        "sysctl_file": lab("exec", host, "--", "cat", SYSCTL_FILE, check=False).stdout.strip(),
        "unit": lab("exec", host, "--", "systemctl", "is-enabled", "set_mptcp_limit.service",
                    check=False).stdout.strip(),
        "endpoints": sorted(endpoint["address"] for endpoint in endpoints),
        "flags": [on_host(host, "nmcli", "-g", "connection.mptcp-flags", "connection", "show", link).strip()
                  for link in ("link1", "link2")],
    }


@pytest.fixture(scope="module")
def awx(tmp_path_factory):
    """The lab's hosts, and everything of a private data directory that does
    not change from job to job: project, inventory script, collections."""
    base = tmp_path_factory.mktemp("awx")
    lab("down", check=False)
    lab("up", "--topology", "two-links")
    try:
        inventory_file = str(base / "lab-inventory.yml")
        with open(inventory_file, "w") as handle:
            handle.write(lab("inventory").stdout)
        # AWX keeps the imported inventory as JSON and renders it as a script.
        inventory = subprocess.run([os.path.join(BIN, "ansible-inventory"), "-i", inventory_file, "--list"],
                                   capture_output=True, text=True, check=True).stdout
        project = base / "project"
        files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout.split()
        for name in files:
            if os.path.isfile(os.path.join(ROOT, name)):
                os.makedirs(os.path.dirname(str(project / name)), exist_ok=True)
                shutil.copy2(os.path.join(ROOT, name), str(project / name))
        # The project's collection, installed from the tarball a project update would fetch.
        dist = base / "dist"
        subprocess.run([os.path.join(BIN, "ansible-galaxy"), "collection", "build", "--output-path", str(dist),
                        str(project)], capture_output=True, text=True, check=True)
        (tarball,) = os.listdir(str(dist))
        collections = base / "requirements_collections"
        # (only there: a copy found on another collections path would count as installed)
        subprocess.run([os.path.join(BIN, "ansible-galaxy"), "collection", "install", "--offline", "-p",
                        str(collections), str(dist / tarball)], capture_output=True, text=True, check=True,
                       env=dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(collections)))
        assert (collections / "ansible_collections" / "mptcp" / "multipath" / "MANIFEST.json").exists()
        yield {"base": base, "inventory": inventory, "project": project, "collections": collections}
    finally:
        lab("down")


def run_job(awx, name, playbook, job_type, extravars, limit=None, inventory=None):
    """One job: a fresh private data directory as AWX lays it out, then
    ansible_runner.run() as AWX calls it (a Limit as `--limit`). Returns the
    runner object."""
    data = awx["base"] / name
    shutil.copytree(str(awx["project"]), str(data / "project"), symlinks=True)
    (data / "inventory").mkdir()
    script = data / "inventory" / "hosts"
    script.write_text(INVENTORY_SCRIPT % (inventory or awx["inventory"]))
    script.chmod(0o700)
    shutil.copytree(str(awx["collections"]), str(data / "requirements_collections"))
    (data / "env").mkdir()
    (data / "env" / "extravars").write_text(json.dumps(extravars))
    (data / "env" / "envvars").write_text(json.dumps({
        "ANSIBLE_COLLECTIONS_PATH": "%s:%s" % (data / "requirements_collections", COMMUNITY),
        "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false",
        "ANSIBLE_FORCE_COLOR": "false",
        "ANSIBLE_HOST_KEY_CHECKING": "false",
    }))
    (data / "env" / "settings").write_text(json.dumps({"job_timeout": 900, "suppress_ansible_output": True}))
    os.environ["PATH"] = BIN + os.pathsep + os.environ["PATH"]  # the EE's ansible-playbook
    cmdline = (["--check"] if job_type == "check" else []) + (["--limit", limit] if limit else [])
    return ansible_runner.run(private_data_dir=str(data), playbook=playbook, ident=name, quiet=True,
                              cmdline=" ".join(cmdline) or None)


def assert_job(job, status):
    assert (job.status, job.rc == 0) == (status, status == "successful"), job.stdout.read()[-6000:]


def summary(runner):
    """Per host: ok/changed/failed from the job's final stats event, checked
    against the per-task events it summarises."""
    events = list(runner.events)
    (stats,) = [event["event_data"] for event in events if event["event"] == "playbook_on_stats"]
    failed_events = [event for event in events
                     if event["event"] in ("runner_on_failed", "runner_on_unreachable")
                     and not event["event_data"].get("ignore_errors")]
    changed_events = {host: [event for event in events if event["event"] == "runner_on_ok"
                             and event["event_data"]["host"] == host
                             and event["event_data"]["res"].get("changed")] for host in HOSTS}
    per_host = {}
    for host in HOSTS:
        per_host[host] = {
            "ok": stats["ok"].get(host, 0),
            "changed": stats["changed"].get(host, 0),
            "failed": stats["failures"].get(host, 0) + stats["dark"].get(host, 0),
        }
        assert per_host[host]["ok"] > 0, (host, stats)
        assert (per_host[host]["changed"] > 0) == bool(changed_events[host]), (host, stats)
    assert not failed_events, [event["stdout"] for event in failed_events]
    return per_host


# A survey's text fields: numbers and booleans arrive as strings.
PERMANENT_SURVEY = {"mptcp_link_count": "1", "mptcp_manage_packages": "false"}
DISABLE_SURVEY = {"mptcp_manage_packages": "false"}


def test_permanent_and_disable_job_templates(awx):
    before = {host: host_state(host) for host in HOSTS}
    for state in before.values():
        # (NetworkManager may already have made an endpoint for a default route's interface)
        assert state["sysctl_file"] == "" and state["unit"] != "enabled", state

    # "check" on hosts never configured: would change, must not fail, changes nothing.
    job = run_job(awx, "permanent-check", "playbooks/permanent.yml", "check", PERMANENT_SURVEY)
    assert_job(job, "successful")
    assert all(counts["changed"] > 0 and counts["failed"] == 0 for counts in summary(job).values())
    assert {host: host_state(host) for host in HOSTS} == before

    job = run_job(awx, "permanent-run", "playbooks/permanent.yml", "run", PERMANENT_SURVEY)
    assert_job(job, "successful")
    assert all(counts["changed"] > 0 and counts["failed"] == 0 for counts in summary(job).values())
    configured = {host: host_state(host) for host in HOSTS}
    for host, state in configured.items():
        assert state["enabled"] == "1"
        assert "net.mptcp.enabled = 1" in state["sysctl_file"].splitlines()
        assert state["unit"] == "enabled"
        # mptcp_link_count "1" (a string) was honoured: one link is one path, so the plan makes no
        # endpoint, and NetworkManager's MPTCP handling is off on that link (disabled, 0x1) and untouched
        # on the second
        assert state["endpoints"] == [], state
        assert state["flags"][0] == "0x1" and state["flags"][1] == "0x0", state

    # "check" on configured hosts: nothing to change.
    job = run_job(awx, "permanent-check-again", "playbooks/permanent.yml", "check", PERMANENT_SURVEY)
    assert_job(job, "successful")
    assert all(counts["changed"] == 0 and counts["failed"] == 0 for counts in summary(job).values())
    assert {host: host_state(host) for host in HOSTS} == configured

    job = run_job(awx, "disable-check", "playbooks/disable.yml", "check", DISABLE_SURVEY)
    assert_job(job, "successful")
    assert all(counts["changed"] > 0 and counts["failed"] == 0 for counts in summary(job).values())
    assert {host: host_state(host) for host in HOSTS} == configured

    job = run_job(awx, "disable-run", "playbooks/disable.yml", "run", DISABLE_SURVEY)
    assert_job(job, "successful")
    assert all(counts["changed"] > 0 and counts["failed"] == 0 for counts in summary(job).values())
    for host in HOSTS:
        state = host_state(host)
        assert state["enabled"] == "0" and state["endpoints"] == [] and state["unit"] != "enabled", state
        assert state["flags"] == ["0x0", "0x0"], state

    job = run_job(awx, "disable-check-again", "playbooks/disable.yml", "check", DISABLE_SURVEY)
    assert_job(job, "successful")
    assert all(counts["changed"] == 0 and counts["failed"] == 0 for counts in summary(job).values())


def test_a_failing_job_is_reported_per_host(awx):
    """A survey answer the role refuses: the job fails on every host, runner
    reports it as failed per host, and nothing is changed."""
    before = {host: host_state(host) for host in HOSTS}
    job = run_job(awx, "permanent-bad-survey", "playbooks/permanent.yml", "run",
                  {"mptcp_link_count": "1", "mptcp_manage_packages": "perhaps"})
    assert_job(job, "failed")
    events = list(job.events)
    (stats,) = [event["event_data"] for event in events if event["event"] == "playbook_on_stats"]
    assert {host: stats["failures"].get(host, 0) for host in HOSTS} == {"server": 1, "client": 1}
    assert {host: host_state(host) for host in HOSTS} == before


# A RHEL fleet's survey answer: the repositories to enable while installing pyroute2 (RHEL's own have no
# python3-pyroute2), as a Text question gives it (a string, where the role's argument spec wants a list) and
# as a multiple-select question gives it; and what dnf is asked to enable with each.
RHEL_SURVEYS = (("epel", ["epel"]), (["epel", "crb"], ["epel", "crb"]))
# What makes a Debian lab host a RHEL 9 host to Ansible's facts (os_family RedHat, pkg_mgr dnf).
RHEL_FILES = {"/etc/redhat-release": "Red Hat Enterprise Linux release 9.4 (Plow)",
              "/usr/bin/dnf": "#!/bin/sh\nexit 1"}


def as_rhel_client_without_pyroute2(inventory):
    """The job's inventory with a client whose modules run on a Python that
    does not see the installed pyroute2 (-S: no site packages)."""
    data = json.loads(inventory)
    data["_meta"]["hostvars"]["client"]["ansible_python_interpreter"] = "/usr/bin/python3 -S"
    return json.dumps(data)


def test_the_rhel_repositories_survey_answer_reaches_dnf(awx):
    """The lab's hosts are Debian, so the client plays a RHEL 9 host that
    lacks pyroute2: Ansible's facts read its /etc/redhat-release (os_family
    RedHat) and find a /usr/bin/dnf (pkg_mgr dnf), and its modules cannot
    import pyroute2. permanent.yml then installs python3-pyroute2 with dnf,
    enabling the survey's repositories; with no dnf Python module on the host
    that install fails, and the role says where the package comes from. The
    server, a Debian host, is configured as usual."""
    inventory = as_rhel_client_without_pyroute2(awx["inventory"])
    for path, content in RHEL_FILES.items():
        lab("exec", "client", "--", "sh", "-c", "printf '%%s\\n' '%s' > %s && chmod 755 %s" % (content, path, path))
    try:
        for number, (answer, enabled) in enumerate(RHEL_SURVEYS):
            job = run_job(awx, "permanent-rhel-%d" % number, "playbooks/permanent.yml", "run",
                          dict(PERMANENT_SURVEY, mptcp_manage_packages="true", mptcp_package_repositories=answer),
                          inventory=inventory)
            assert_job(job, "failed")
            (stats,) = host_events(job, "playbook_on_stats")
            assert {host: stats["failures"].get(host, 0) for host in HOSTS} == {"server": 0, "client": 1}, stats
            failed = {event["task"]: event["res"] for event in host_events(job, "runner_on_failed")}
            assert set(failed) == {"Install the packages from the repositories named", "Say where the packages come from"}
            dnf = failed["Install the packages from the repositories named"]
            assert dnf["invocation"]["module_args"]["enablerepo"] == enabled, dnf
            assert dnf["invocation"]["module_args"]["name"] == ["python3-pyroute2"], dnf
            assert "name the repository in mptcp_package_repositories" in failed["Say where the packages come from"]["msg"]
    finally:
        lab("exec", "client", "--", "rm", "-f", *RHEL_FILES)
        job = run_job(awx, "permanent-rhel-disable", "playbooks/disable.yml", "run", DISABLE_SURVEY)
        assert_job(job, "successful")


def with_retired_first_server(inventory):
    """The job's inventory with a first server the Limit leaves out (a host
    in maintenance: unreachable, no MPTCP), as an AWX inventory may have."""
    data = json.loads(inventory)
    data["mptcp_servers"]["hosts"].insert(0, "retired")
    data["_meta"]["hostvars"]["retired"] = dict(data["_meta"]["hostvars"]["server"], ansible_host="192.0.2.254",
                                                ansible_connection="ssh", mptcp_links=[])
    return json.dumps(data)


def host_events(runner, event_name):
    return [event["event_data"] for event in runner.events if event["event"] == event_name]


VERIFY_SURVEY = {"mptcp_verify_size": "4M"}


def assert_nothing_ran_before_the_check(runner):
    """Refused at once: the role's argument validation passed (the variables are
    well-formed), its input check failed, and no other task ran."""
    ok_tasks = {event["task"] for event in host_events(runner, "runner_on_ok")}
    assert all(task.startswith("Validating arguments against arg spec 'main'") for task in ok_tasks), ok_tasks
    assert [event["task"] for event in host_events(runner, "runner_on_failed")] == ["Check the inputs"]


def test_verify_job_template_and_a_limit_without_the_first_server(awx):
    """verify.yml as a job template after permanent.yml: it proves both links
    carry a transfer; with an inventory whose first server is out of the job's
    Limit it verifies the server the Limit leaves; with a Limit that leaves
    no server it fails at once, naming the variable to set."""
    job = run_job(awx, "verify-permanent", "playbooks/permanent.yml", "run", {"mptcp_manage_packages": "false"})
    assert_job(job, "successful")
    configured = {host: host_state(host) for host in HOSTS}
    # the server announces both links (what the client makes of them is the plan's, and verify's to prove)
    assert len(configured["server"]["endpoints"]) == 2, configured
    # Links of a real speed: unshaped veths move 4 MiB in milliseconds, before a second subflow can carry a share.
    for link in ("link1", "link2"):
        lab("shape", link, "--rate", "20mbit")
    try:
        # (`make molecule` and the system tests run verify.yml on the whole inventory; each transfer here
        # costs about 15 s, so only what a job adds: a Limit, the refusals, check mode.)
        # The first server of the inventory is left out by the Limit: the job verifies the one it leaves.
        inventory = with_retired_first_server(awx["inventory"])
        job = run_job(awx, "verify-limit", "playbooks/verify.yml", "run", VERIFY_SURVEY, limit="server:client",
                      inventory=inventory)
        assert_job(job, "successful")
        summary(job)
        output = " ".join(job.stdout.read().split())
        assert "MPTCP used every link" in output and "MPTCP client -> server" in output, output[-6000:]
        assert not [event for event in job.events if event.get("event_data", {}).get("host") == "retired"]

        # Without the Limit that inventory's first server is the default one, and it has no links: refused
        # at once, naming the variable; naming the pair instead runs the transfer between them.
        job = run_job(awx, "verify-retired", "playbooks/verify.yml", "run", VERIFY_SURVEY, inventory=inventory)
        assert_job(job, "failed")
        failed = host_events(job, "runner_on_failed")
        assert failed and all("the server retired has no mptcp_links" in json.dumps(event["res"]) for event in failed)
        assert_nothing_ran_before_the_check(job)
        job = run_job(awx, "verify-named-pair", "playbooks/verify.yml", "run",
                      dict(VERIFY_SURVEY, mptcp_verify_server="server", mptcp_verify_client="client"),
                      inventory=inventory)
        assert_job(job, "successful")
        assert "MPTCP used every link" in job.stdout.read()

        # A Limit that leaves no server: refused at once, naming the variable, nothing run on the client.
        job = run_job(awx, "verify-no-server", "playbooks/verify.yml", "run", VERIFY_SURVEY, limit="client")
        assert_job(job, "failed")
        failed = host_events(job, "runner_on_failed")
        assert failed and all("set mptcp_verify_server to the inventory name" in json.dumps(event["res"])
                              for event in failed), failed
        assert_nothing_ran_before_the_check(job)
        # A job of type check sends nothing and changes nothing. (The transfers above may have left the kernel's
        # implicit endpoints of the subflows the client opened to announced addresses: compare with now.)
        before_check = {host: host_state(host) for host in HOSTS}
        job = run_job(awx, "verify-check", "playbooks/verify.yml", "check", VERIFY_SURVEY)
        assert_job(job, "successful")
        assert all(counts["changed"] == 0 and counts["failed"] == 0 for counts in summary(job).values())
        assert {host: host_state(host) for host in HOSTS} == before_check
    finally:
        for link in ("link1", "link2"):
            lab("shape", link, "--rate", "none")
        job = run_job(awx, "verify-disable", "playbooks/disable.yml", "run", DISABLE_SURVEY)
        assert_job(job, "successful")
