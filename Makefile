# `make demo` and `make test` do all set-up on a fresh Debian 12 machine
# (run as root): Debian packages, a virtualenv with pinned PyPI packages, and
# the collection made visible to Ansible under .build/collections.
SHELL := /bin/bash
.DEFAULT_GOAL := help
.PHONY: help deps apt venv collection demo demo-netns test lint sanity units integration system \
	lab-image molecule molecule-vms bench clean

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
# systemd-nspawn or qemu.
APT_PACKAGES := python3 python3-venv python3-pyroute2 iproute2 procps rsync git ca-certificates \
	debootstrap systemd-container qemu-system-x86 qemu-utils e2fsprogs openssh-client
LAB := $(BIN)/python tests/lab/mptcp-lab

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

venv: $(BIN)/.installed

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
	$(BIN)/pytest -q tests/unit

integration: deps
	$(BIN)/pytest -q tests/integration

# Roles and playbooks on lab hosts (tests/lab): bad inputs, check mode, faults.
system: deps lab-image
	$(BIN)/pytest -q tests/system

# Real hosts: systemd-nspawn machines (default, three_links, dual_stack, apps) and qemu VMs.
molecule: deps lab-image
	cd $(ROOT) && for scenario in default three_links dual_stack apps; do \
	  $(BIN)/molecule test -s $$scenario || exit 1; \
	done

molecule-vms: deps lab-image
	$(LAB) build-image --vm
	cd $(ROOT) && $(BIN)/molecule test -s vms

test: lint sanity units integration system molecule molecule-vms

# Figures, not pass/fail: one MPTCP connection over one and two shaped links.
bench: deps
	$(BIN)/python tests/benchmarks/throughput.py

clean:
	rm -rf $(BUILD) tests/output $(SANITY_ROOT)
