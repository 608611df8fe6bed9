"""mptcp_nm_profile's run() through main(): the cases are in test_mptcp_nm_profile.yaml."""

import os

import yaml

from ansible_collections.mptcp.multipath.plugins.modules import mptcp_nm_profile


def test_mptcp_nm_profile(case, assert_case):
    assert_case(mptcp_nm_profile, case)


def runs(case_id):
    """{program: runs} of a case; the runner fails a case unless the module makes exactly its calls."""
    with open(os.path.splitext(__file__)[0] + ".yaml") as handle:
        case = [case for case in yaml.safe_load(handle)["test_cases"] if case["id"] == case_id][0]
    pending, counts = list(case["mocks"]["run_command"]), {}
    while pending:
        call = pending.pop(0)
        if isinstance(call, list):
            pending[:0] = call
        else:
            counts[call["argv"][0]] = counts.get(call["argv"][0], 0) + 1
    return counts


def test_profiles_form_reads_networkmanager_once_for_all_entries():
    # a settled host (a no-op re-run), busctl present: one profile by the single form, two by profiles
    one = runs("profile_and_device_agree_there_is_no_change")
    two = runs("profiles_settled_is_no_change")
    assert one == {"nmcli": 5, "busctl": 1, "ip": 4}      # two profiles: twice this, 10 nmcli runs
    assert two == {"nmcli": 5, "busctl": 2, "ip": 4}
