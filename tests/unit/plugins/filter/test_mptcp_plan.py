"""The mptcp_plan filter: the planner's result (tests/unit/plugins/module_utils/
test_plan.py tests the plan itself) in the form the backend's module takes,
its commands, and the planner's refusals as filter errors."""

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.mptcp.multipath.plugins.filter.mptcp_plan import FilterModule, mptcp_plan
from ansible_collections.mptcp.multipath.plugins.module_utils._plan import describe, plan


def host(name, side, laminar=True):
    return {"name": name, "side": side, "laminar": laminar,
            "links": [{"interface": "link%d" % index, "addresses": ["10.0.%d.%d" % (index, 1 if side == "server" else 2)],
                       "backup": False} for index in (1, 2)]}


SERVER, CLIENT = host("server", "server"), host("client", "client")


def test_the_filter_is_registered_by_its_name():
    assert FilterModule().filters() == {"mptcp_plan": mptcp_plan}


def test_kernel_backends_get_the_endpoints_with_dev():
    result = mptcp_plan(CLIENT, [SERVER])
    expected = plan(CLIENT, [SERVER])
    assert result["endpoints"] == expected["endpoints"]
    assert result["declared"] == [{"address": endpoint["address"], "dev": endpoint["interface"],
                                   "flags": endpoint["flags"]} for endpoint in expected["endpoints"]]
    assert result["declared"]  # two links: the client has endpoints to declare
    assert result["commands"] == describe(expected)


def test_networkmanager_gets_the_flags_of_the_hosts_own_links():
    result = mptcp_plan(CLIENT, [SERVER], backend="networkmanager")
    expected = plan(CLIENT, [SERVER])
    assert result["declared"] == [{"interface": item["interface"], "flags": item["flags"]}
                                  for item in expected["profiles"] if item["interface"] in ("link1", "link2")]
    assert [item["interface"] for item in result["declared"]] == ["link1", "link2"]


def test_the_planners_refusal_is_a_filter_error():
    with pytest.raises(AnsibleFilterError, match="mptcp_topology 'ring' must be one of"):
        mptcp_plan(CLIENT, [SERVER], topology="ring")
