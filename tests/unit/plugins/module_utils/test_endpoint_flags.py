import os
import re

import importlib

import pytest
import yaml

from ansible.utils.plugin_docs import merge_fragment

from ansible_collections.mptcp.multipath.plugins.module_utils import _argspec, _endpoint_flags
from ansible_collections.mptcp.multipath.plugins.module_utils._endpoint_flags import (
    ENDPOINT_FLAGS,
    FLAG_BITS,
    FLAG_TABLE,
    NM_ENDPOINT_FLAGS,
    NM_FLAG_BITS,
    NM_ONLY_FLAGS,
    USER_FLAGS,
    backend_flags,
    backend_problems,
    combination_problems,
    decode_flags,
    encode_flags,
    flag_problems,
    kernel_version,
    version_problems,
)
from ansible_collections.mptcp.multipath.plugins.module_utils._nmcli import NM_FLAGS, nm_flag_problems
from ansible_collections.mptcp.multipath.plugins.modules import mptcp_endpoint, mptcp_nm_profile, mptcp_preflight


@pytest.mark.parametrize("names, bits", [
    ([], 0),
    (["signal"], 1),
    (["subflow"], 2),
    (["subflow", "backup"], 6),
    (["subflow", "fullmesh"], 10),
    (["laminar"], 32),
])
def test_encode_and_decode_are_inverse(names, bits):
    assert encode_flags(names) == bits
    assert decode_flags(bits) == names


def test_decode_names_implicit_and_unknown_bits():
    assert decode_flags(0x10 | 0x2) == ["subflow", "implicit"]
    assert decode_flags(0x100 | 0x1) == ["signal", "0x100"]


@pytest.mark.parametrize("flags, port, expected", [
    (["signal", "fullmesh", "subflow"], 0, "signal and fullmesh cannot be combined"),
    (["fullmesh"], 0, "fullmesh needs flag subflow"),
    (["subflow"], 8080, "a port needs flag signal"),
])
def test_flag_problems_name_the_conflict(flags, port, expected):
    problems = flag_problems(flags, port=port, kernel=(6, 18))
    assert any(expected in problem for problem in problems), problems


def test_valid_combinations_have_no_problem():
    assert flag_problems(["signal"], port=8080, kernel=(6, 18)) == []
    assert flag_problems(["subflow", "fullmesh", "backup"], kernel=(6, 18)) == []


def test_laminar_depends_on_kernel_version():
    assert flag_problems(["laminar"], kernel=(6, 18)) == []
    assert "laminar needs kernel 6.18" in flag_problems(["laminar"], kernel=(6, 12))[0]


def test_kernel_version_parses_release_strings():
    assert kernel_version("6.1.0-28-cloud-amd64") == (6, 1)
    assert kernel_version("6.18.44-fc-v595") == (6, 18)


# -- the one flag table, and every argument spec held against it ---------------
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))


def test_the_table_holds_the_kernels_and_networkmanagers_bits():
    # include/uapi/linux/mptcp.h and libnm's NMMptcpFlags (../shared/notes/mptcp-facts.md)
    assert dict(FLAG_BITS) == {"signal": 0x1, "subflow": 0x2, "backup": 0x4, "fullmesh": 0x8, "implicit": 0x10,
                               "laminar": 0x20}
    assert dict(NM_FLAG_BITS) == {"disabled": 0x1, "enabled": 0x2, "also-without-sysctl": 0x4,
                                  "also-without-default-route": 0x8, "signal": 0x10, "subflow": 0x20,
                                  "backup": 0x40, "fullmesh": 0x80, "laminar": 0x100}
    assert list(NM_FLAG_BITS.values()) == sorted(NM_FLAG_BITS.values())
    assert FLAG_TABLE["laminar"].min_kernel == (6, 18) and FLAG_TABLE["laminar"].min_nm == (1, 56)


def test_the_views_derive_from_the_table():
    assert USER_FLAGS == ("signal", "subflow", "backup", "fullmesh", "laminar")
    assert NM_ENDPOINT_FLAGS == USER_FLAGS
    assert NM_ONLY_FLAGS == ("also-without-default-route", "also-without-sysctl")
    assert ENDPOINT_FLAGS == USER_FLAGS + NM_ONLY_FLAGS
    assert backend_flags("runtime") == backend_flags("systemd") == USER_FLAGS
    assert backend_flags("networkmanager") == ENDPOINT_FLAGS
    assert NM_FLAGS == tuple(NM_FLAG_BITS)


def test_the_rules_are_written_once_and_shared():
    pair = "flags signal and fullmesh cannot be combined"
    assert combination_problems(["signal", "fullmesh"]) == [pair, "flag fullmesh needs flag subflow"]
    assert pair in flag_problems(["signal", "fullmesh", "subflow"], kernel=(6, 18))
    assert nm_flag_problems(["signal", "fullmesh"], (1, 42)) == [pair]   # NetworkManager: no "needs"
    assert combination_problems(["disabled", "subflow"], alone=True) == [
        "flag disabled cannot be combined with other flags"]
    assert version_problems(["laminar", "subflow"], kernel=(6, 12), nm=(1, 42, 4)) == [
        "flag laminar needs kernel 6.18 or newer",
        "flag laminar needs NetworkManager 1.56 or newer (this host has 1.42.4)"]
    assert version_problems(["laminar"], kernel=(6, 18), nm=(1, 56, 0)) == []


@pytest.mark.parametrize("flags, backend, message", [
    (["subflow", "also-without-sysctl"], "runtime",
     "also-without-sysctl not possible with the runtime backend (NetworkManager only)"),
    (["also-without-default-route", "also-without-sysctl"], "systemd",
     "also-without-default-route, also-without-sysctl not possible with the systemd backend (NetworkManager only)"),
])
def test_backend_problems_name_who_takes_the_flag(flags, backend, message):
    assert backend_problems(flags, backend) == [message]


def test_backend_problems_leave_what_is_no_endpoint_flag_to_the_caller():
    assert backend_problems(["subflow", "also-without-sysctl"], "networkmanager") == []
    assert backend_problems(["implicit", "sigal"], "runtime") == []


def _choices(spec, prefix=""):
    """{option path: choices} of every *flags option of an argument spec (or a
    role's options), suboptions included."""
    found = {}
    for name, option in (spec or {}).items():
        path = prefix + name
        if name.endswith("flags") and "choices" in option:
            found[path] = list(option["choices"])
        # argument specs nest with "options", DOCUMENTATION with "suboptions"
        found.update(_choices(option.get("options") or option.get("suboptions"), path + "."))
    return found


class _Captured(Exception):
    pass


def _argument_spec(module, monkeypatch):
    """The argument spec ``module.main()`` gives AnsibleModule (its own, or _argspec's)."""
    captured = {}

    def fake(**kwargs):
        captured.update(kwargs)
        raise _Captured()
    for owner in (module, _argspec):
        if hasattr(owner, "AnsibleModule"):
            monkeypatch.setattr(owner, "AnsibleModule", fake)
    with pytest.raises(_Captured):
        module.main()
    return captured["argument_spec"]


# Every *flags option with choices, and the view of the table it offers.
MODULE_FLAGS = [
    (mptcp_endpoint, {"flags": USER_FLAGS, "endpoints.flags": USER_FLAGS}),
    (mptcp_nm_profile, {"flags": NM_FLAGS, "profiles.flags": NM_FLAGS}),
    (mptcp_preflight, {"endpoints.flags": ENDPOINT_FLAGS, "default_flags": ENDPOINT_FLAGS}),
]


@pytest.mark.parametrize("module, expected", MODULE_FLAGS,
                         ids=[module.__name__.rsplit(".", maxsplit=1)[-1] for module, dummy in MODULE_FLAGS])
def test_module_argument_specs_and_docs_offer_the_tables_flags(module, expected, monkeypatch):
    expected = dict((path, list(flags)) for path, flags in expected.items())
    assert _choices(_argument_spec(module, monkeypatch)) == expected
    assert _choices(_documented_options(module)) == expected


def _documented_options(module):
    """The module's options with its collection's doc fragments merged in, as ansible-doc does."""
    doc = yaml.safe_load(module.DOCUMENTATION)
    for fragment in doc.get("extends_documentation_fragment", []):
        name, dummy, variable = fragment[len("mptcp.multipath."):].partition(".")
        fragments = importlib.import_module("ansible_collections.mptcp.multipath.plugins.doc_fragments." + name)
        options = yaml.safe_load(getattr(fragments.ModuleDocFragment, (variable or "documentation").upper()))
        merge_fragment(doc["options"], options.get("options", {}))
    return doc["options"]


def test_role_argument_spec_offers_the_tables_endpoint_flags():
    with open(os.path.join(ROOT, "roles", "mptcp", "meta", "argument_specs.yml")) as handle:
        specs = yaml.safe_load(handle)["argument_specs"]
    for entry_point, spec in specs.items():
        found = _choices(spec.get("options"))
        if entry_point == "main":
            assert found == {"mptcp_endpoints.flags": list(ENDPOINT_FLAGS),
                             "mptcp_endpoint_default_flags": list(ENDPOINT_FLAGS)}
        else:
            assert all(choices == list(ENDPOINT_FLAGS) for choices in found.values()), entry_point


def test_no_copy_of_the_table_or_its_rules_in_the_python_code():
    # the table is the one place: no other list of flag names, bits or rule
    # messages in plugins/ (the modules' documentation says the rules in words)
    copies = re.compile(r'"signal",\s*"subflow",\s*"backup"|"(%s)":\s*0x|cannot be combined"'
                        % "|".join(re.escape(name) for name in FLAG_TABLE))
    found = []
    for directory in ("module_utils", "modules", "filter"):
        top = os.path.join(ROOT, "plugins", directory)
        for name in sorted(os.listdir(top)):
            if name.endswith(".py") and name != "_endpoint_flags.py":
                with open(os.path.join(top, name)) as handle:
                    found.extend("%s/%s" % (directory, name) for line in handle if copies.search(line))
    assert found == []
    assert "FLAGS" in dir(_endpoint_flags)
