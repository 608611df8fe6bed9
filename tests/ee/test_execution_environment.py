"""The execution environment definitions, checked with ansible-builder
itself (make ee; no container engine here, so no image is built).

- meta/execution-environment.yml is what ansible-builder reads from the
  collection when an EE includes it: valid schema 3, its files exist, and
  the builder's own introspection script, run on the collection installed
  from the tarball exactly as the image build runs it, finds them.
- docs/execution-environment.yml is the EE definition docs/awx.md tells
  users to build: `ansible-builder create` turns it into a build context
  that installs the tarball and the part of the ansible-core range
  meta/runtime.yml declares that runs on the image's Python 3.11.

Run with .venv-tools/bin/pytest (it has ansible-builder).
"""

import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml
from ansible_builder.ee_schema import validate_schema

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)


def load(path):
    with open(os.path.join(ROOT, path)) as handle:
        return yaml.safe_load(handle)


def lines(path):
    with open(os.path.join(ROOT, path)) as handle:
        return [line.strip() for line in handle if line.strip() and not line.startswith("#")]


@pytest.fixture(scope="module")
def tarball(tmp_path_factory):
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run([os.path.join(BIN, "ansible-galaxy"), "collection", "build", "--output-path", str(dist), ROOT],
                   capture_output=True, text=True, check=True)
    (name,) = os.listdir(str(dist))
    return dist / name


def test_collection_metadata_is_schema_3_and_names_existing_files():
    definition = load("meta/execution-environment.yml")
    validate_schema(definition)  # raises on anything schema 3 does not allow
    assert definition["version"] == 3
    for entry in ("python", "system"):
        path = definition["dependencies"][entry]
        assert not os.path.isabs(path), "ansible-builder wants paths relative to the collection root"
        assert os.path.isfile(os.path.join(ROOT, path)), path
    assert lines("meta/ee-requirements.txt") == []
    assert lines("meta/ee-bindep.txt") == ["openssh-clients [platform:rpm]", "openssh-client [platform:dpkg]"]


def test_the_user_definition_builds_a_context_that_installs_the_tarball(tarball, tmp_path):
    galaxy = load("galaxy.yml")
    runtime = load("meta/runtime.yml")
    definition = load("docs/execution-environment.yml")
    validate_schema(definition)
    # The tarball named in the definition is the one this version builds.
    (collection,) = definition["dependencies"]["galaxy"]["collections"]
    assert os.path.basename(collection["name"]) == os.path.basename(str(tarball))
    assert "mptcp-multipath-%s.tar.gz" % galaxy["version"] == os.path.basename(str(tarball))
    # ansible-core: meta/runtime.yml's range up to what runs on the image's Python 3.11 (make core tests
    # each of those versions on 3.11; 2.20 and 2.21 need 3.12 or newer, docs/support.md).
    lowest, highest = re.match(r">=([0-9.]+),<([0-9.]+)$", runtime["requires_ansible"]).groups()
    assert definition["dependencies"]["python_interpreter"]["package_system"] == "python3.11"
    assert (lowest, highest) == ("2.15.0", "2.22")
    assert definition["dependencies"]["ansible_core"]["package_pip"] == "ansible-core>=%s,<2.20" % lowest

    work = tmp_path / "ee"
    work.mkdir()
    shutil.copy(os.path.join(ROOT, "docs", "execution-environment.yml"), str(work))
    shutil.copy(str(tarball), str(work))
    result = subprocess.run([os.path.join(BIN, "ansible-builder"), "create", "-f", "execution-environment.yml",
                             "-c", "context", "--output-filename", "Containerfile"],
                            cwd=str(work), capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    context = work / "context"
    containerfile = (context / "Containerfile").read_text()
    assert 'ARG EE_BASE_IMAGE="%s"' % definition["images"]["base_image"]["name"] in containerfile
    assert 'ARG ANSIBLE_INSTALL_REFS="ansible-core>=%s,<2.20 ansible-runner>=2.3"' % lowest in containerfile
    assert "ansible-galaxy collection install $ANSIBLE_GALAXY_CLI_COLLECTION_OPTS -r requirements.yml" \
        in containerfile
    assert "introspect.py introspect" in containerfile
    assert (context / "_build" / "collections" / os.path.basename(str(tarball))).read_bytes() == tarball.read_bytes()
    requirements = yaml.safe_load((context / "_build" / "requirements.yml").read_text())
    assert requirements == {"collections": [collection]}

    # The image build's galaxy stage, then its builder stage's introspection,
    # on this machine: install the tarball from the context as requirements.yml
    # says (from /build, the context's _build), then run the context's script.
    collections = tmp_path / "usr-share-ansible-collections"
    result = subprocess.run([os.path.join(BIN, "ansible-galaxy"), "collection", "install", "--offline",
                             "-r", "requirements.yml", "--collections-path", str(collections)],
                            cwd=str(context / "_build"), capture_output=True, text=True, check=False,
                            env=dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(collections)))
    assert result.returncode == 0, result.stdout + result.stderr
    assert (collections / "ansible_collections" / "mptcp" / "multipath" / "meta" / "ee-bindep.txt").is_file()
    result = subprocess.run([sys.executable, str(context / "_build" / "scripts" / "introspect.py"), "introspect",
                             str(collections)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    found = yaml.safe_load(result.stdout)
    assert found["python"] == []
    assert found["system"] == ["openssh-clients [platform:rpm]  # from collection mptcp.multipath",
                               "openssh-client [platform:dpkg]  # from collection mptcp.multipath"]
