import pytest

from ansible_collections.mptcp.multipath.plugins.module_utils._common import version_tuple


@pytest.mark.parametrize("text, version", [
    ("nmcli tool, version 1.42.4", (1, 42, 4)),   # NetworkManager
    ("6.18.0-1-amd64", (6, 18, 0)),               # a kernel release
    ("0.9.1.post1", (0, 9, 1)),                   # a Python package
    ("systemd 257 (257.13-1)\n+PAM", (257,)),     # the first number only
    ("unknown", ()),
    ("", ()),
    (None, ()),
])
def test_the_first_version_number_as_integers(text, version):
    assert version_tuple(text) == version
