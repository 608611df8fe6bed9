# Sphinx configuration of the docs site `make docs` builds under .build/docs
# from the rst that antsibull-docs makes of the modules' and roles' own
# documentation (started from `antsibull-docs sphinx-init`).
project = 'mptcp.multipath'
copyright = 'mptcp.multipath contributors'
title = 'mptcp.multipath: Multipath TCP with Ansible'
html_short_title = 'mptcp.multipath'

extensions = ['sphinx_antsibull_ext', 'myst_parser']
# The guides are the collection's Markdown files (docs/*.md, README.md),
# included by the rst pages of docs/docsite/rst (extra-docs.yml); `make docs`
# copies them beside the rendered pages. They are sources of those pages
# only, not pages of their own.
source_suffix = {'.rst': 'restructuredtext'}
exclude_patterns = ['collections/README.md', 'collections/mptcp/*.md', 'collections/mptcp/benchmarks/*']
myst_heading_anchors = 3
pygments_style = 'ansible'
highlight_language = 'YAML+Jinja'

html_theme = 'sphinx_ansible_theme'
html_show_sphinx = False
display_version = False
html_use_smartypants = True
html_use_modindex = False
html_use_index = False
html_copy_source = False
default_role = 'any'

# No intersphinx: the build must not fetch anything. The labels antsibull-docs
# uses for Ansible's own documentation become plain links to it; any other
# unresolved reference (one to this collection's content) stays a warning,
# which `make docs` (sphinx-build -W) turns into a failure.
ANSIBLE_DOCS = 'https://docs.ansible.com/ansible/latest/'
ANSIBLE_LABELS = {
    'common_return_values': 'reference_appendices/common_return_values.html',
    'ansible_configuration_settings': 'reference_appendices/config.html',
}


def _ansible_docs_link(app, env, node, contnode):
    from docutils import nodes

    target = node.get('reftarget', '')
    if target in ANSIBLE_LABELS:
        uri = ANSIBLE_DOCS + ANSIBLE_LABELS[target]
    elif target.startswith('ansible_collections.ansible.builtin.') and target.endswith('_module'):
        uri = ANSIBLE_DOCS + 'collections/ansible/builtin/%s.html' % target.rsplit('.', 1)[1]
    else:
        return None
    reference = nodes.reference('', '', internal=False, refuri=uri)
    reference.append(contnode)
    return reference


def setup(app):
    app.connect('missing-reference', _ansible_docs_link)
