import pytest

from ansible_collections.mptcp.multipath.plugins.module_utils._endpoint_flags import (
    decode_flags,
    encode_flags,
    flag_problems,
    kernel_version,
)


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
