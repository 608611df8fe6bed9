"""Make the collection importable as ansible_collections.mptcp.multipath,
the way Ansible itself loads it (the Makefile links it under .build)."""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(ROOT, ".build", "collections")
LINK = os.path.join(COLLECTIONS, "ansible_collections", "mptcp", "multipath")

if not os.path.exists(LINK):
    os.makedirs(os.path.dirname(LINK), exist_ok=True)
    os.symlink(ROOT, LINK)
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)
# ansible-playbook run by the tests finds this collection, and only through this path.
os.environ["ANSIBLE_COLLECTIONS_PATH"] = COLLECTIONS
