"""_argspec: the shared option pieces, their merge, and their doc fragments."""

import pytest
import yaml

from ansible_collections.mptcp.multipath.plugins.doc_fragments import _endpoint, namespace
from ansible_collections.mptcp.multipath.plugins.module_utils import _argspec
from ansible_collections.mptcp.multipath.plugins.module_utils._endpoint_flags import ENDPOINT_FLAGS, USER_FLAGS


def test_namespace_argspec_adds_namespace_to_the_modules_own():
    spec = _argspec.namespace_argspec(dict(gather=dict(type="list")), required_if=[("state", "present", ("x",))])
    assert spec.argument_spec == {"gather": {"type": "list"}, "namespace": {"type": "str"}}
    assert spec.required_if == [("state", "present", ("x",))]
    assert spec.mutually_exclusive == [] and spec.required_one_of == []


def test_merge_keeps_both_constraints_and_refuses_an_option_given_twice():
    first = _argspec.ArgumentSpec(dict(a=dict(type="str")), mutually_exclusive=[("a", "b")])
    first.merge(_argspec.ArgumentSpec(dict(b=dict(type="str")), required_one_of=[("a", "b")]))
    assert sorted(first.argument_spec) == ["a", "b"]
    assert first.mutually_exclusive == [("a", "b")] and first.required_one_of == [("a", "b")]
    with pytest.raises(ValueError, match="options given twice: namespace"):
        _argspec.namespace_argspec(dict(namespace=dict(type="path")))


def test_each_call_returns_a_fresh_spec():
    """AnsibleModule may change a spec it gets: no module shares one dict."""
    one, two = _argspec.module_endpoint_options(), _argspec.module_endpoint_options(address_required=True)
    one["flags"]["default"].append("signal")
    assert two["flags"]["default"] == [] and two["address"]["required"] is True
    assert _argspec.NAMESPACE is not _argspec.namespace_argspec().argument_spec


def suboptions(fragment):
    return yaml.safe_load(fragment)["options"]["endpoints"]["suboptions"]


@pytest.mark.parametrize("fragment, spec, flags", [
    (_endpoint.ModuleDocFragment.MODULE, _argspec.module_endpoint_options(address_required=True), USER_FLAGS),
    (_endpoint.ModuleDocFragment.ROLE, _argspec.role_endpoint_options(), ENDPOINT_FLAGS),
], ids=["module", "role"])
def test_the_fragment_documents_the_spec_it_belongs_to(fragment, spec, flags):
    documented = suboptions(fragment)
    assert sorted(documented) == sorted(spec)
    for name, option in spec.items():
        assert documented[name]["type"] == option["type"], name
        assert documented[name].get("required", False) == option.get("required", False), name
        assert documented[name].get("default") == option.get("default"), name
        assert documented[name].get("choices") == option.get("choices"), name
    assert documented["flags"]["choices"] == list(flags)


def test_the_namespace_fragment_documents_namespace():
    options = yaml.safe_load(namespace.ModuleDocFragment.DOCUMENTATION)["options"]
    assert {name: option["type"] for name, option in options.items()} == {"namespace": "str"}
