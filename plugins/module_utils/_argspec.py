# -*- coding: utf-8 -*-
# Copyright: mptcp.multipath contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The argument-spec pieces several modules share, and a small holder that
merges them (model: community.crypto's plugins/module_utils/_argspec.py).
Their documentation is in plugins/doc_fragments: ``namespace`` for
NAMESPACE, ``_endpoint`` for the endpoint suboptions; sanity's
validate-modules checks each module's spec against its documentation.

Not part of the collection's public API."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mptcp.multipath.plugins.module_utils._endpoint_flags import ENDPOINT_FLAGS, USER_FLAGS

# Options that act in a network namespace (doc fragment mptcp.multipath.namespace).
NAMESPACE = dict(namespace=dict(type="str"))


def module_endpoint_options(address_required=False):
    """One module endpoint, as mptcp_endpoint takes it (doc fragment
    mptcp.multipath._endpoint.MODULE): bound to an interface by ``dev``."""
    return dict(
        address=dict(type="str", required=address_required),
        dev=dict(type="str"),
        id=dict(type="int"),
        port=dict(type="int"),
        flags=dict(type="list", elements="str", choices=list(USER_FLAGS), default=[]),
    )


def role_endpoint_options():
    """One role endpoint, as the mptcp role and mptcp_preflight take it (doc
    fragment mptcp.multipath._endpoint.ROLE): named by ``interface`` or
    ``profile``; flags left out take the default flags."""
    options = dict((key, option) for key, option in module_endpoint_options().items() if key != "dev")
    options.update(
        interface=dict(type="str"),
        profile=dict(type="str"),
        flags=dict(type="list", elements="str", choices=list(ENDPOINT_FLAGS)),
    )
    return options


class ArgumentSpec(object):
    """An argument spec and its constraints, merged from pieces."""

    def __init__(self, argument_spec=None, mutually_exclusive=None, required_one_of=None, required_if=None):
        self.argument_spec = dict(argument_spec or {})
        self.mutually_exclusive = list(mutually_exclusive or [])
        self.required_one_of = list(required_one_of or [])
        self.required_if = list(required_if or [])

    def merge(self, other):
        """Adds ``other``'s options and constraints; an option both have is an error."""
        clash = sorted(set(self.argument_spec) & set(other.argument_spec))
        if clash:
            raise ValueError("options given twice: %s" % ", ".join(clash))
        self.argument_spec.update(other.argument_spec)
        self.mutually_exclusive.extend(other.mutually_exclusive)
        self.required_one_of.extend(other.required_one_of)
        self.required_if.extend(other.required_if)
        return self

    def create_ansible_module(self, **kwargs):
        return AnsibleModule(
            argument_spec=self.argument_spec,
            mutually_exclusive=self.mutually_exclusive,
            required_one_of=self.required_one_of,
            required_if=self.required_if,
            **kwargs
        )


def namespace_argspec(argument_spec=None, **constraints):
    """A module's own options and constraints, plus O(namespace)."""
    return ArgumentSpec(argument_spec, **constraints).merge(ArgumentSpec(NAMESPACE))
