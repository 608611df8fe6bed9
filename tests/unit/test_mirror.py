"""tests/unit/plugins mirrors plugins/ file for file: each module, module_utils
and filter file has one test file of its name (module_utils without the
leading underscore), and no test file is left without its plugin. Doc
fragments are documentation only: ansible-test sanity (validate-modules)
checks them with the modules that use them."""

import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLUGINS = os.path.join(ROOT, "plugins")
UNITS = os.path.join(ROOT, "tests", "unit", "plugins")
DOCUMENTATION_ONLY = ("doc_fragments",)
# Plugin files whose test file is still to come, each with the reason. The
# mirror is complete when this is empty; a file here that has its test fails.
NOT_YET = {}


def python_files(top, prefix=""):
    for directory in sorted(os.listdir(top)):
        path = os.path.join(top, directory)
        if os.path.isdir(path) and directory not in DOCUMENTATION_ONLY and directory != "__pycache__":
            for name in sorted(os.listdir(path)):
                if name.endswith(".py") and name.startswith(prefix) and name != "__init__.py":
                    yield directory, name


def has_test(directory, name):
    return os.path.exists(os.path.join(UNITS, directory, "test_" + name.lstrip("_")))


def test_every_plugin_file_has_its_test_file():
    missing = ["tests/unit/plugins/%s/test_%s" % (directory, name.lstrip("_"))
               for directory, name in python_files(PLUGINS)
               if not has_test(directory, name) and "%s/%s" % (directory, name) not in NOT_YET]
    assert missing == []
    done = [path for path in NOT_YET if has_test(*path.split("/"))]
    assert done == [], "these have their test file now: take them out of NOT_YET"


def test_every_test_file_has_its_plugin_file():
    orphans = ["tests/unit/plugins/%s/%s" % (directory, name) for directory, name in python_files(UNITS, "test_")
               if not any(os.path.exists(os.path.join(PLUGINS, directory, plugin))
                          for plugin in (name[len("test_"):], "_" + name[len("test_"):]))]
    assert orphans == []
