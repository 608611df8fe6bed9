"""The artifact users install, tested as they get it (make tarball).

`ansible-galaxy collection build` makes the tarball, the oldest supported
ansible-core installs it offline into a fresh collections path; its
documents name only files it has and state one supported range. Then, on
lab hosts and from installed copies only: every command the packed README
shows a user, as written, with the newest ansible-core (2.21); and the
molecule `default` scenario with the oldest, which molecule no longer
supports, by running the scenario's own playbooks in molecule's order
(`check_scenario`: create, converge, idempotence, verify, cleanup with
playbooks/disable.yml, destroy; `make molecule` runs every scenario with
molecule itself from the checkout). The scenario files come from the
checkout; everything under `mptcp.multipath` (modules, roles, playbooks)
comes from the install directory, which is the only place Ansible can find
the collection.
"""

import json
import os
import re
import shlex
import shutil
import subprocess
import tarfile

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WORK = os.path.join(ROOT, ".build", "tarball")
DIST = os.path.join(WORK, "dist")
INSTALLED = os.path.join(WORK, "collections")
INSTALLED_COLLECTION = os.path.join(INSTALLED, "ansible_collections", "mptcp", "multipath")
CORE = os.path.join(ROOT, ".venv-core")
OLDEST, NEWEST = "2.15", "2.21"
MAIN_BIN = os.path.join(ROOT, ".venv", "bin")
# community.docker (the lab's nsenter connection) ships in the test venv's `ansible` package.
COMMUNITY = next(os.path.join(ROOT, ".venv", "lib", name, "site-packages")
                 for name in os.listdir(os.path.join(ROOT, ".venv", "lib")) if name.startswith("python3"))
SCENARIO = "default"
# What a user gets, and nothing else at the top of the tarball.
EXPECTED_TOP = {"CHANGELOG.md", "FILES.json", "LICENSE", "MANIFEST.json", "README.md",
                "changelogs", "docs", "meta", "playbooks", "plugins", "roles"}
# Build and test material that must never ship.
NEVER = re.compile(r"^(tests|extensions|\.ci|\.venv[^/]*|\.build|\.git|Makefile|changelogs/fragments"
                   r"|docs/development\.md)(/|$)"
                   r"|(^|/)(__pycache__|\.pytest_cache)(/|$)|\.pyc$")
LAB_PREFIX = os.environ.get("MPTCP_TEST_LAB_PREFIX", "")


def core_bin(version, tool):
    return os.path.join(CORE, version, "bin", tool)


def run(command, **kwargs):
    result = subprocess.run(command, capture_output=True, text=True, check=False, **kwargs)
    assert result.returncode == 0, "%s failed (%s):\n%s\n%s" % (
        " ".join(command), result.returncode, result.stdout[-20000:], result.stderr[-5000:])
    return result


def installed_env(**extra):
    """Ansible sees the installed copy and community.docker, nothing else:
    no ~/.ansible/collections, no checkout link, no sys.path scanning."""
    env = dict(os.environ)
    env.update(ANSIBLE_COLLECTIONS_PATH=INSTALLED + os.pathsep + COMMUNITY,
               ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false",
               ANSIBLE_NOCOLOR="1")
    env.pop("ANSIBLE_CONFIG", None)
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def tarball():
    """Build with the newest ansible-core, install with the oldest, offline."""
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(DIST)
    run([os.path.join(MAIN_BIN, "ansible-galaxy"), "collection", "build", "--output-path", DIST, ROOT])
    (name,) = os.listdir(DIST)
    path = os.path.join(DIST, name)
    run([core_bin(OLDEST, "ansible-galaxy"), "collection", "install", "--offline", "-p", INSTALLED, path],
        env=installed_env())
    return path


# A path a packed document may name: one of the collection's top-level
# names, then path components (at least one `/`, or a top-level file).
DOC_PATH = re.compile(r"(?<![\w./-])((?:\.ci|\.build|\.venv[\w-]*|Makefile|galaxy\.yml|tests|extensions|docs|playbooks"
                      r"|roles|plugins|meta|changelogs)(?:/[\w.-]+)*/?)")
DOC_LINK = re.compile(r"\]\(([^)\s#]+)")
# The repository's developer sections: they may name what only a checkout has,
# and must say so.
CHECKOUT_SECTION = re.compile(r"<!-- checkout:start -->(.*?)<!-- checkout:end -->", re.S)
# Packed documents of other parts of the collection that still name a test of
# the repository (each entry must still be needed: the list only shrinks).
KNOWN_DANGLING = {
    "CHANGELOG.md": {"tests/lab"},  # 0.1.0's released notes
    "roles/mptcp/README.md": {"tests/system/test_link_follow.py"},
    "docs/plan.md": {"tests/lab/topologies", "tests/system/test_plan_paths.py",
                     "tests/unit/plugins/module_utils/test_plan.py"},
    "docs/benchmarks/README.md": {"tests/benchmarks/bench.py", "tests/lab", "tests/lab/topologies/hosts-N.yml"},
}


def dangling_paths(document, text, names):
    """The paths a packed Markdown document names (in prose, code or links)
    that the tarball lacks, outside its checkout-only sections; relative
    paths count from the collection root or from the document's directory."""
    have = set(names)
    for name in names:
        parts = name.split("/")
        have.update("/".join(parts[:index]) for index in range(1, len(parts)))
    for section in CHECKOUT_SECTION.findall(text):
        assert "checkout" in section.lower(), "%s: a checkout section that does not say so" % document
    text = CHECKOUT_SECTION.sub("", text)
    assert "checkout:start" not in text and "checkout:end" not in text, "%s: unpaired checkout markers" % document
    here = os.path.dirname(document)
    named = set()
    for match in DOC_PATH.finditer(text):
        path = match.group(1).rstrip("/.")
        if "/" in path or path in ("Makefile", ".ci", "galaxy.yml"):
            named.add(path)
    for target in DOC_LINK.findall(text):
        if not re.match(r"[a-z]+:", target):
            named.add(os.path.normpath(os.path.join(here, target)))
    return {path for path in named if path not in have and os.path.normpath(os.path.join(here, path)) not in have}


def test_packed_documents_name_only_what_the_tarball_has(tarball):
    """Every Markdown document in the tarball, as a user reads it after
    `ansible-galaxy collection install`: a path it names outside the
    sections that say they need a checkout must be in the tarball."""
    with tarfile.open(tarball) as archive:
        names = [member.name for member in archive.getmembers()]
        documents = {name: archive.extractfile(name).read().decode("utf-8")
                     for name in names if name.endswith(".md")}
    assert {"README.md", "docs/awx.md", "docs/support.md", "docs/seed-procedures.md"} <= set(documents)
    # the README's developer section is there, says it needs a checkout, and keeps `make demo` and `make test`
    (developer,) = CHECKOUT_SECTION.findall(documents["README.md"])
    assert "needs a checkout" in developer and "make demo" in developer and "make test" in developer
    found = {document: dangling_paths(document, text, names) for document, text in documents.items()}
    found = {document: paths for document, paths in found.items() if paths}
    unexpected = {document: sorted(paths - KNOWN_DANGLING.get(document, set())) for document, paths in found.items()}
    assert {document: paths for document, paths in unexpected.items() if paths} == {}
    assert {document: sorted(paths - found.get(document, set())) for document, paths in KNOWN_DANGLING.items()
            if paths - found.get(document, set())} == {}, "no longer dangling: drop from KNOWN_DANGLING"


def test_the_supported_core_range_is_stated_once(tarball):
    """meta/runtime.yml, the README's table (the same in docs/support.md),
    docs/awx.md and the EE definition say the same range, and the Makefile
    tests every version of it."""
    with tarfile.open(tarball) as archive:
        def read(name):
            return archive.extractfile(name).read().decode("utf-8")
        runtime = yaml.safe_load(read("meta/runtime.yml"))
        readme, support, awx = read("README.md"), read("docs/support.md"), read("docs/awx.md")
        ee = yaml.safe_load(read("docs/execution-environment.yml"))
    with open(os.path.join(ROOT, "Makefile")) as handle:
        tested = re.search(r"^CORE_VERSIONS := (.*)$", handle.read(), re.M).group(1).split()
    oldest, newest = tested[0], tested[-1]
    # (a newer ansible-core, untested, warns that the collection does not support it)
    assert runtime["requires_ansible"] == ">=%s.0,<2.%d" % (oldest, int(newest.split(".")[1]) + 1)
    table = re.search(r"<!-- core-versions:start -->.*?<!-- core-versions:end -->", readme, re.S).group(0)
    assert table in support
    rows = re.findall(r"^\| (2\.\d+) \| (3\.\d+) - (3\.\d+) \| (3\.\d+) - (3\.\d+) \|", table, re.M)
    assert [row[0] for row in rows] == tested
    statement = "ansible-core %s to %s" % (oldest, newest)
    for text in (readme, support, awx):
        assert statement in text
    # the EE: the part of the range that runs on its Python, each version tested on that Python
    python = ee["dependencies"]["python_interpreter"]["package_system"].replace("python", "")
    pin = re.match(r"ansible-core>=%s\.0,<(2\.\d+)$" % re.escape(oldest),
                   ee["dependencies"]["ansible_core"]["package_pip"])
    assert pin, ee["dependencies"]["ansible_core"]

    def version(text):
        return tuple(map(int, text.split(".")))
    in_ee = [row for row in rows if version(row[0]) < version(pin.group(1))]
    assert in_ee and all(version(row[1]) <= version(python) <= version(row[2]) for row in in_ee), (python, in_ee)


def test_tarball_holds_what_users_need_and_nothing_else(tarball):
    with open(os.path.join(ROOT, "galaxy.yml")) as handle:
        galaxy = yaml.safe_load(handle)
    assert os.path.basename(tarball) == "mptcp-multipath-%s.tar.gz" % galaxy["version"]
    with tarfile.open(tarball) as archive:
        names = [member.name for member in archive.getmembers()]
        manifest = json.load(archive.extractfile("MANIFEST.json"))
    assert {name.split("/")[0] for name in names} == EXPECTED_TOP
    assert [name for name in names if NEVER.search(name)] == []
    for needed in ("meta/runtime.yml", "meta/execution-environment.yml", "changelogs/changelog.yaml",
                   "docs/awx.md", "docs/support.md", "docs/docsite/extra-docs.yml", "playbooks/permanent.yml", "playbooks/disable.yml",
                   "roles/mptcp/meta/argument_specs.yml", "plugins/modules/mptcp_endpoint.py"):
        assert needed in names, needed
    info = manifest["collection_info"]
    assert (info["namespace"], info["name"], info["version"]) == ("mptcp", "multipath", galaxy["version"])
    assert not [key for key in ("repository", "documentation", "homepage", "issues")
                if "invalid" in (info.get(key) or "") or "example" in (info.get(key) or "")]
    size = os.path.getsize(tarball)
    print("tarball %s: %d files, %d bytes" % (os.path.basename(tarball), len(names), size))
    # a lab image, a venv or a build directory slipping in would be megabytes
    assert size < 512 * 1024


@pytest.mark.parametrize("version", [OLDEST, NEWEST])
def test_installed_copy_is_intact_and_the_only_one(tarball, version):
    env = installed_env()
    verify = run([core_bin(version, "ansible-galaxy"), "collection", "verify", "--offline", "mptcp.multipath"],
                 env=env)
    assert "Successfully verified" in verify.stdout
    listing = run([core_bin(version, "ansible-galaxy"), "collection", "list", "mptcp.multipath",
                   "--format", "json"], env=env)
    assert list(json.loads(listing.stdout)) == [os.path.join(INSTALLED, "ansible_collections")]
    # A module really runs from the install directory (read-only, on this machine).
    result = run([core_bin(version, "ansible"), "localhost", "-vvv", "-m", "mptcp.multipath.mptcp_info",
                  "-a", "gather=sysctls"], env=env)
    assert "Using module file %s/plugins/modules/mptcp_info.py" % INSTALLED_COLLECTION in result.stdout
    assert "requires_ansible" not in result.stderr and "does not support Ansible version" not in result.stderr


def project_dir(name):
    """A molecule project whose `.build/collections` and `playbooks` are the
    installed copy's: molecule.yml's ANSIBLE_COLLECTIONS_PATH
    (${MOLECULE_PROJECT_DIRECTORY}/.build/collections) then points at it."""
    project = os.path.join(WORK, name)
    shutil.rmtree(project, ignore_errors=True)
    for part in (SCENARIO, "shared"):
        shutil.copytree(os.path.join(ROOT, "extensions", "molecule", part),
                        os.path.join(project, "extensions", "molecule", part))
    # molecule looks for extensions/molecule in a collection's root, which it knows by galaxy.yml
    shutil.copy(os.path.join(ROOT, "galaxy.yml"), project)
    os.makedirs(os.path.join(project, "tests"))
    os.symlink(os.path.join(ROOT, "tests", "lab"), os.path.join(project, "tests", "lab"))
    os.makedirs(os.path.join(project, ".build"))
    os.symlink(INSTALLED, os.path.join(project, ".build", "collections"))
    os.symlink(os.path.join(INSTALLED_COLLECTION, "playbooks"), os.path.join(project, "playbooks"))
    return project


def interpolate(value, env):
    """molecule's ${VAR}, ${VAR:-default} and ${VAR-default} in molecule.yml."""
    def one(match):
        name, operator, default = match.group(1), match.group(2), match.group(3)
        if operator == ":-":
            return env.get(name) or default
        if operator == "-":
            return env.get(name, default)
        return env.get(name, "")
    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}", one, value)


def recap(stdout):
    """PLAY RECAP counters per host."""
    return {match.group(1): {key: int(number) for key, number in re.findall(r"(\w+)=(\d+)", match.group(2))}
            for match in re.finditer(r"^(\S+)\s+:\s+(ok=.*)$", stdout, re.M)}


def check_scenario(project, version, lab):
    """Molecule's sequence for the default scenario with one ansible-core's
    ansible-playbook: create, converge, idempotence, verify, cleanup,
    destroy (destroy always); asserts that each step succeeds and that the
    second converge changes nothing. Same environment, config and inventory
    directory as molecule gives the playbooks."""
    scenario_dir = os.path.join(project, "extensions", "molecule", SCENARIO)
    with open(os.path.join(scenario_dir, "molecule.yml")) as handle:
        config = yaml.safe_load(handle)
    ephemeral = os.path.join(WORK, "ephemeral-" + version)
    shutil.rmtree(ephemeral, ignore_errors=True)
    os.makedirs(os.path.join(ephemeral, "inventory"))
    with open(os.path.join(ephemeral, "ansible.cfg"), "w") as cfg:
        for section, options in config["ansible"]["cfg"].items():
            cfg.write("[%s]\n" % section)
            cfg.writelines("%s = %s\n" % item for item in options.items())
    env = installed_env(MOLECULE_PROJECT_DIRECTORY=project, MOLECULE_SCENARIO_DIRECTORY=scenario_dir,
                        MOLECULE_SCENARIO_NAME=SCENARIO, MOLECULE_EPHEMERAL_DIRECTORY=ephemeral,
                        ANSIBLE_CONFIG=os.path.join(ephemeral, "ansible.cfg"), MPTCP_LAB_NAME=lab)
    for name, value in config["ansible"]["env"].items():
        env[name] = interpolate(str(value), env)
    # molecule.yml's own path is the install directory; the nsenter connection is added.
    assert env["ANSIBLE_COLLECTIONS_PATH"] == os.path.join(project, ".build", "collections")
    env["ANSIBLE_COLLECTIONS_PATH"] += os.pathsep + COMMUNITY
    env["ANSIBLE_COLLECTIONS_SCAN_SYS_PATH"] = "false"
    env["MPTCP_LAB_NAME"] = lab
    # the scenario's lab command (extensions/molecule/shared/vars/lab.yml): the test venv's
    env.setdefault("MPTCP_LAB", os.path.join(MAIN_BIN, "mptcp-lab"))

    def playbook(step):
        return run([core_bin(version, "ansible-playbook"), "--inventory", os.path.join(ephemeral, "inventory"),
                    os.path.join(scenario_dir, step + ".yml")], env=env, cwd=scenario_dir)

    try:
        playbook("create")
        playbook("converge")
        again = recap(playbook("converge").stdout)
        assert again and all(counts["changed"] == 0 for counts in again.values()), again
        playbook("verify")
        playbook("cleanup")
    finally:
        playbook("destroy")


def test_default_scenario_from_the_installed_copy_oldest_core(tarball):
    check_scenario(project_dir("project-" + OLDEST), OLDEST, LAB_PREFIX + "tarball-" + OLDEST.replace(".", ""))


def readme_commands(readme):
    """The commands of the packed README's user part (before its checkout
    section), in order: each line of its `sh` blocks, as argv."""
    user_part = readme.split("<!-- checkout:start -->", 1)[0]
    return [shlex.split(line, comments=True)
            for block in re.findall(r"^```sh\n(.*?)^```", user_part, re.M | re.S)
            for line in block.splitlines() if line.strip()]


def test_the_readmes_commands_from_the_installed_copy_with_the_newest_core(tarball, tmp_path):
    """Every command the packed README shows a user, run as it is written
    with the newest ansible-core, against two lab hosts as `my-inventory`:
    install the tarball into an empty collections path, permanent.yml by its
    FQCN, the same with --check --diff (nothing left to change), the ad hoc
    mptcp_info checks, verify.yml, disable.yml. The one command left out
    installs from a Galaxy server, which this machine cannot reach."""
    with tarfile.open(tarball) as archive:
        commands = readme_commands(archive.extractfile("README.md").read().decode("utf-8"))
    name = os.path.basename(tarball)
    assert commands[0] == ["ansible-galaxy", "collection", "install", name], commands
    assert ["ansible-galaxy", "collection", "install", "mptcp.multipath"] in commands
    commands = [command for command in commands if command[-1] != "mptcp.multipath"]
    playbooks = [command[-1] for command in commands if command[0] == "ansible-playbook" and "--check" not in command]
    assert playbooks == ["mptcp.multipath.permanent", "mptcp.multipath.verify", "mptcp.multipath.disable"], commands

    lab_name = LAB_PREFIX + "tarball-readme"
    lab_tool = [os.path.join(MAIN_BIN, "python"), os.path.join(ROOT, "tests", "lab", "mptcp-lab"), "--lab", lab_name]
    shutil.copy(tarball, str(tmp_path / name))
    collections = tmp_path / "collections"
    env = installed_env()
    env["ANSIBLE_COLLECTIONS_PATH"] = str(collections) + os.pathsep + COMMUNITY  # empty: the install fills it
    subprocess.run(lab_tool + ["down"], capture_output=True, check=False)
    run(lab_tool + ["up", "--topology", "two-links"])
    try:
        (tmp_path / "my-inventory").mkdir()
        (tmp_path / "my-inventory" / "hosts.yml").write_text(run(lab_tool + ["inventory"]).stdout)
        outputs = []
        for command in commands:
            if command[-1] == "mptcp.multipath.verify":
                # links of one real speed: unshaped veths outrun the scheduler's need for a second path
                for link in ("link1", "link2"):
                    run(lab_tool + ["shape", link, "--rate", "20mbit"])
            extra = ["-e", "mptcp_manage_packages=false"] if command[0] == "ansible-playbook" else []  # no mirror
            result = run([core_bin(NEWEST, command[0])] + command[1:] + extra, env=env, cwd=str(tmp_path))
            outputs.append((command, result.stdout))
        assert (collections / "ansible_collections" / "mptcp" / "multipath" / "MANIFEST.json").is_file()
        text = {" ".join(command[:2] + command[-1:]): " ".join(stdout.split()) for command, stdout in outputs}
        first, again = (recap(stdout) for command, stdout in outputs if command[-1] == "mptcp.multipath.permanent"
                        or "--check" in command)
        assert all(first[host]["changed"] > 0 for host in ("server", "client")), first
        assert all(again[host]["changed"] == 0 for host in ("server", "client")), again
        assert '"limits": {' in text["ansible mptcp_clients gather=limits,endpoints"]
        assert "MPTCP used every link" in text["ansible-playbook -i mptcp.multipath.verify"]
        assert all(counts["failed"] == 0 for counts in recap(outputs[-1][1]).values())
        after = run([core_bin(NEWEST, "ansible"), "all", "-i", "my-inventory", "-m", "mptcp.multipath.mptcp_info",
                     "-a", "gather=sysctls"], env=env, cwd=str(tmp_path)).stdout
        assert after.count('"enabled": false') == 2, after
    finally:
        for link in ("link1", "link2"):
            subprocess.run(lab_tool + ["shape", link, "--rate", "none"], capture_output=True, check=False)
        run(lab_tool + ["down"])
