# `make demo` and `make test` do all set-up on a fresh Debian 12 machine
# (run as root): Debian packages, a virtualenv with pinned PyPI packages, and
# the collection made visible to Ansible under .build/collections.
SHELL := /bin/bash
.DEFAULT_GOAL := help
.PHONY: help deps apt venv collection demo demo-netns test lint sanity units integration system \
	lab-image molecule molecule-vms bench bench-smoke clean

ROOT := $(CURDIR)
PYTHON := /usr/bin/python3
VENV := $(ROOT)/.venv
BIN := $(VENV)/bin
BUILD := $(ROOT)/.build
COLLECTION_LINK := $(BUILD)/collections/ansible_collections/mptcp/multipath
# Outside this checkout: ansible-test would otherwise see the copy as
# git-ignored files of this repository and skip them all.
SANITY_ROOT := /tmp/mptcp-multipath-sanity
SANITY_TREE := $(SANITY_ROOT)/ansible_collections/mptcp/multipath
export ANSIBLE_COLLECTIONS_PATH := $(BUILD)/collections
export ANSIBLE_COLLECTIONS_SCAN_SYS_PATH := false
export PATH := $(BIN):$(PATH)

# Host tools: python3-venv for the virtualenv; python3-pyroute2 is Debian 12's
# pyroute2 0.7, which the integration tests run the modules against as well;
# the lab (tests/lab) builds its image with debootstrap and boots hosts with
# systemd-nspawn or qemu; its delay line sends packets to itself with iptables.
APT_PACKAGES := python3 python3-venv python3-pyroute2 iproute2 procps rsync git ca-certificates \
	debootstrap systemd-container qemu-system-x86 qemu-utils e2fsprogs openssh-client iptables
# The lab's command, which `make venv` installs as .venv/bin/mptcp-lab; the
# molecule scenarios run $MPTCP_LAB, or mptcp-lab from PATH without it.
export MPTCP_LAB := $(BIN)/mptcp-lab
LAB := $(MPTCP_LAB)

help:
	@echo "make demo   configure MPTCP on a local lab and show a transfer using several subflows"
	@echo "make test   lint, sanity, unit, integration, system (lab) and molecule tests (as root)"

apt:
	@missing=""; for package in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}\n' $$package 2>/dev/null | grep -q '^install ok installed$$' || missing="$$missing $$package"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi

$(BIN)/.installed: tests/requirements.txt
	$(MAKE) apt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r tests/requirements.txt
	touch $@

# The lab (tests/lab) as a command: this checkout's code on the venv's Python
# (PyYAML), without packaging it (a pyproject.toml in tests/lab would become
# pytest's rootdir and hide tests/conftest.py).
$(BIN)/mptcp-lab: $(BIN)/.installed
	printf '#!/bin/sh\n# made by make venv: the lab of %s\nexec %s %s "$$@"\n' \
	  '$(ROOT)' '$(BIN)/python' '$(ROOT)/tests/lab/mptcp-lab' > $@
	chmod 0755 $@

venv: $(BIN)/.installed $(BIN)/mptcp-lab

collection:
	@mkdir -p $(dir $(COLLECTION_LINK))
	@ln -sfn $(ROOT) $(COLLECTION_LINK)

deps: apt venv collection

demo: deps lab-image
	$(BIN)/python tests/demo/lab_demo.py

# The same seed 34.3 story on two network namespaces: no image, seconds.
demo-netns: deps
	$(BIN)/python tests/demo/netns_demo.py

# Built once and cached under /var/cache/mptcp-lab, keyed by its recipe.
lab-image: deps
	$(LAB) build-image

lint: deps
	$(BIN)/ansible-lint --offline --profile production
	$(BIN)/python tests/lint/check_assertions.py tests

# ansible-test wants the collection at ansible_collections/NS/NAME and
# resolves symlinks, so sanity runs on a copy of the files git would commit.
# Its per-test virtualenvs are bootstrapped with a get-pip script that it
# downloads from a host we cannot reach; tests/sanity/get_pip.py stands in.
ANSIBLE_TEST_PIP = $(shell sed -n "s/^ *pip='\([0-9.]*\)',/\1/p" \
	$(VENV)/lib/python3*/site-packages/ansible_test/_internal/python_requirements.py)
sanity: deps
	@test -n "$(ANSIBLE_TEST_PIP)" || { echo "cannot tell which pip ansible-test bootstraps"; exit 1; }
	mkdir -p $(HOME)/.ansible/test/cache
	cp tests/sanity/get_pip.py $(HOME)/.ansible/test/cache/get_pip_$(subst .,_,$(ANSIBLE_TEST_PIP)).py
	rm -rf $(SANITY_ROOT) && mkdir -p $(SANITY_TREE)
	git ls-files --cached --others --exclude-standard | rsync -a --files-from=- $(ROOT)/ $(SANITY_TREE)/
	cd $(SANITY_TREE) && $(BIN)/ansible-test sanity --python 3.11 --color no

units: deps
	$(BIN)/pytest -q --cov=plugins --cov-report=term tests/unit tests/lab/tests

integration: deps
	$(BIN)/pytest -q tests/integration

# Roles and playbooks on lab hosts (tests/lab): bad inputs, check mode, faults.
system: deps lab-image
	$(BIN)/pytest -q tests/system

# Real hosts: systemd-nspawn machines (default, three_links, dual_stack, apps on
# Debian 12; default and apps on Debian 13 too; networkd: hosts without
# NetworkManager, the role's systemd endpoint backend) and qemu VMs.
molecule: deps lab-image
	$(LAB) build-image --image debian13
	cd $(ROOT) && for scenario in default three_links dual_stack apps default_debian13 apps_debian13 networkd; do \
	  $(BIN)/molecule test -s $$scenario || exit 1; \
	done

molecule-vms: deps lab-image
	$(LAB) build-image --vm
	cd $(ROOT) && $(BIN)/molecule test -s vms

test: lint core units integration system molecule molecule-vms tarball awx ee docs changelog bench-smoke

# Figures, not pass/fail, on the lab: aggregation, failover and control-plane
# cost (tests/benchmarks/bench.py); writes docs/benchmarks/README.md, its
# plots, and the table in README.md.
bench: deps lab-image
	$(BIN)/python tests/benchmarks/bench.py

# The benchmark code with tiny sizes and one run: it must produce its files
# and plots; no figure is judged.
bench-smoke: deps lab-image
	$(BIN)/pytest -q tests/benchmarks

clean:
	rm -rf $(BUILD) tests/output $(SANITY_ROOT)

# --- Where users run it: every supported ansible-core, the shipped tarball,
# AWX/ansible-runner, the execution environment, the docs site, the changelog.
.PHONY: core core-venvs core-sanity core-sanity-rest core-units core-integration core-integration-rest core-target-python core-old-host tools tarball awx ee docs docs-lint changelog
# meta/runtime.yml's requires_ansible, every version of it (docs/support.md).
# One venv per version, pinned in tests/requirements-core-<version>.txt,
# rebuilt only when that file changes. 2.15 to 2.19 run on this machine's
# Python 3.11; 2.20 and 2.21 need Python >= 3.12 on the controller: pyenv's
# 3.12 and 3.13 (CORE_PYTHON_<version>).
CORE_VERSIONS := 2.15 2.16 2.17 2.18 2.19 2.20 2.21
CORE_OLDEST := $(firstword $(CORE_VERSIONS))
CORE_NEWEST := $(lastword $(CORE_VERSIONS))
PYENV_VERSIONS := /root/.pyenv/versions
CORE_PYTHON_2.20 := $(PYENV_VERSIONS)/3.12.1/bin/python3.12
CORE_PYTHON_2.21 := $(PYENV_VERSIONS)/3.13.0/bin/python3.13
# Sanity in `make core`: every version but 2.20, whose run checks what
# 2.21's does (the same rules with pylint 4.0.2 instead of 4.0.5, on 3.12 instead
# of 3.13; compile and import on the same 3.9 and 3.13), so the newest takes
# its place at the same cost; `make core-sanity-rest` runs it (docs/support.md).
CORE_SANITY_REST := 2.20
CORE_SANITY_VERSIONS := $(filter-out $(CORE_SANITY_REST),$(CORE_VERSIONS))
CORE_VENVS := $(ROOT)/.venv-core
# ansible-builder, antsibull-docs, antsibull-changelog: their own venv.
TOOLS := $(ROOT)/.venv-tools

$(CORE_VENVS)/%/.installed: tests/requirements-core-%.txt
	$(MAKE) apt
	rm -rf $(CORE_VENVS)/$*
	$(or $(CORE_PYTHON_$*),$(PYTHON)) -m venv $(CORE_VENVS)/$*
	$(CORE_VENVS)/$*/bin/pip install -q -r $<
	touch $@

core-venvs: $(foreach version,$(CORE_VERSIONS),$(CORE_VENVS)/$(version)/.installed)

$(TOOLS)/.installed: tests/requirements-tools.txt
	$(MAKE) apt
	rm -rf $(TOOLS)
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install -q -r $<
	touch $@

tools: $(TOOLS)/.installed

# ansible-test sanity of each version (full suite on the venv's Python;
# compile and import on the oldest and newest managed-host Python it supports
# from 3.6 on), then the unit tests with each, then the netns integration
# tests with the oldest and the newest (`make integration` runs them with
# 2.19, the test venv's).
core-sanity: deps core-venvs
	for version in $(CORE_SANITY_VERSIONS); do tests/core/sanity $$version || exit 1; done

core-sanity-rest: deps core-venvs
	for version in $(CORE_SANITY_REST); do tests/core/sanity $$version || exit 1; done

core-units: deps core-venvs
	for version in $(CORE_VERSIONS); do \
	  echo "== unit tests, ansible-core $$version"; \
	  $(CORE_VENVS)/$$version/bin/pytest -q tests/unit || exit 1; \
	done

# With the oldest and the newest (2.21 on Python 3.13), the modules run on
# the venv's pyroute2 only: `make integration` covers Debian's pyroute2 0.7
# (and 0.9) with 2.19, the test venv's.
core-integration: deps core-venvs
	for version in $(CORE_OLDEST) $(CORE_NEWEST); do \
	  echo "== integration tests, ansible-core $$version"; \
	  $(CORE_VENVS)/$$version/bin/pytest -q tests/integration -k "not pyroute2-0.7" || exit 1; \
	done

# The versions between, by hand (about 85 s each; not in `make test`, which
# keeps the oldest and the newest): docs/support.md says when they last passed.
core-integration-rest: deps core-venvs
	for version in $(filter-out $(CORE_OLDEST) $(CORE_NEWEST),$(CORE_VERSIONS)); do \
	  echo "== integration tests, ansible-core $$version"; \
	  $(CORE_VENVS)/$$version/bin/pytest -q tests/integration -k "not pyroute2-0.7" || exit 1; \
	done

# The oldest managed hosts: Python 3.6 (RHEL 8's) in network namespaces,
# driven by ansible-core 2.16, the last that supports it; and a Debian 11 lab
# host (Python 3.9, pyroute2 0.5.14, NetworkManager 1.30), where what can work
# works and the rest is refused naming the version needed.
core-target-python: deps core-venvs
	$(CORE_VENVS)/2.16/bin/pytest -q tests/core/test_target_python.py

core-old-host: deps lab-image
	$(LAB) build-image --image debian11
	$(BIN)/pytest -q tests/core/test_old_host.py

core: core-sanity core-units core-integration core-target-python core-old-host

# Build the tarball, install it offline with the oldest ansible-core, run the
# molecule default scenario from the installed copy (oldest and newest).
tarball: deps core-venvs lab-image
	$(BIN)/pytest -q -s tests/tarball

# playbooks/permanent.yml and disable.yml as AWX job templates (run and check)
# through ansible-runner, on lab hosts, with the ansible-core of many EEs.
awx: deps core-venvs lab-image
	$(CORE_VENVS)/2.16/bin/pytest -q tests/awx

# meta/execution-environment.yml and docs/execution-environment.yml checked
# with ansible-builder (`create` and its introspection; no container engine).
ee: deps tools
	$(TOOLS)/bin/pytest -q -p no:cacheprovider tests/ee

# The docs site under .build/docs: antsibull-docs renders the modules' and
# roles' own documentation and the guides of docs/docsite/extra-docs.yml as
# rst, Sphinx makes HTML (warnings are errors; nothing is fetched; the
# guides' Markdown through MyST), and antsibull-docs lints the collection's
# docs.
DOCS_SRC := $(BUILD)/docs-src
docs: deps tools
	rm -rf $(DOCS_SRC) $(BUILD)/docs && mkdir -p $(DOCS_SRC)/rst && chmod og-w $(DOCS_SRC)/rst
	PATH=$(TOOLS)/bin:$$PATH antsibull-docs --config-file docs/docsite/antsibull-docs.cfg collection \
	  --use-current --fail-on-error --dest-dir $(DOCS_SRC)/rst mptcp.multipath
	# The guides (docs/docsite/extra-docs.yml): antsibull-docs copies their rst
	# to collections/mptcp/multipath/docsite/, which include the Markdown
	# guides by the paths they have in the collection, two and three levels up.
	test -f $(DOCS_SRC)/rst/collections/mptcp/multipath/docsite/getting_started.rst
	cp README.md $(DOCS_SRC)/rst/collections/
	cp docs/*.md $(DOCS_SRC)/rst/collections/mptcp/
	mkdir -p $(DOCS_SRC)/rst/collections/mptcp/benchmarks
	cp docs/benchmarks/README.md $(DOCS_SRC)/rst/collections/mptcp/benchmarks/
	# (its plots: MyST takes image paths relative to the including page)
	cp docs/benchmarks/*.png $(DOCS_SRC)/rst/collections/mptcp/multipath/docsite/
	for page in $(DOCS_SRC)/rst/collections/mptcp/multipath/docsite/*.rst; do \
	  guide=$$(sed -n 's/^\.\. guide: //p' $$page); end=$$(sed -n 's/^\.\. guide-end-before: //p' $$page); \
	  test -n "$$guide" || { echo "$$page: no '.. guide:' line"; exit 1; }; \
	  printf '\n.. include:: %s\n   :parser: myst_parser.sphinx_\n' "$$guide" >> $$page; \
	  if [ -n "$$end" ]; then printf '   :end-before: %s\n' "$$end" >> $$page; fi; \
	done
	printf '%s\n' 'mptcp.multipath' '===============' '' '.. toctree::' '   :maxdepth: 2' '' \
	  '   collections/index' > $(DOCS_SRC)/rst/index.rst
	PATH=$(TOOLS)/bin:$$PATH sphinx-build -W --keep-going -q -b html -c docs/docsite $(DOCS_SRC)/rst $(BUILD)/docs
	$(MAKE) docs-lint
	@echo "docs site: $(BUILD)/docs/index.html"

docs-lint: deps tools
	PATH=$(TOOLS)/bin:$$PATH antsibull-docs lint-collection-docs --plugin-docs .

# antsibull-changelog: fragments and changelog.yaml are valid, CHANGELOG.md is
# what changelog.yaml renders to, and the fragments render as the next release
# (preview in .build/changelog/CHANGELOG.md). The copy lives outside the
# checkout: inside, antsibull-changelog would take git's file list of it (none).
CHANGELOG_TMP := /tmp/mptcp-multipath-changelog
changelog: deps tools
	PATH=$(TOOLS)/bin:$$PATH antsibull-changelog lint
	PATH=$(TOOLS)/bin:$$PATH antsibull-changelog lint-changelog-yaml changelogs/changelog.yaml
	rm -rf $(CHANGELOG_TMP) && mkdir -p $(CHANGELOG_TMP)
	cp -r galaxy.yml changelogs CHANGELOG.md meta plugins roles $(CHANGELOG_TMP)/
	cd $(CHANGELOG_TMP) && PATH=$(TOOLS)/bin:$$PATH antsibull-changelog generate
	diff -u CHANGELOG.md $(CHANGELOG_TMP)/CHANGELOG.md || \
	  { echo "CHANGELOG.md is not what changelogs/changelog.yaml renders to: run antsibull-changelog generate"; exit 1; }
	cd $(CHANGELOG_TMP) && PATH=$(TOOLS)/bin:$$PATH antsibull-changelog release --date $$(date +%F)
	mkdir -p $(BUILD)/changelog && cp $(CHANGELOG_TMP)/CHANGELOG.md $(BUILD)/changelog/CHANGELOG.md
	@echo "the next release's notes: $(BUILD)/changelog/CHANGELOG.md"
