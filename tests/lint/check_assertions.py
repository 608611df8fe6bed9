"""Every test function must be able to fail: it holds an ``assert``, expects
an exception or warning (``pytest.raises``, ``pytest.warns``), or calls a
helper of the tests that asserts (a name starting with ``assert``,
``check_`` or ``expect_`` that is not imported from the collection's
plugins: ``check_unit_names`` there is the code under test, not a check).

Usage: check_assertions.py [PATH ...] (files or directories, default tests/).
Prints file:line:function for each test without one and exits 1 then."""

import ast
import os
import sys

HELPER_PREFIXES = ("assert", "check_", "expect_")
EXPECTING = ("raises", "warns")


def plugin_names(tree):
    """Names bound by imports from the collection's plugins (code under test)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and ".plugins" in "." + (node.module or ""):
            names.update(alias.asname or alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names
                         if ".plugins." in alias.name)
    return names


def called_name(call):
    """(the object's name or None, the called name) of a call."""
    func = call.func
    if isinstance(func, ast.Name):
        return None, func.id
    if isinstance(func, ast.Attribute):
        owner = func.value.id if isinstance(func.value, ast.Name) else None
        return owner, func.attr
    return None, None


def can_fail(function, under_test):
    for node in ast.walk(function):
        if isinstance(node, ast.Assert):
            return True
        if not isinstance(node, ast.Call):
            continue
        owner, name = called_name(node)
        if name is None:
            continue
        if owner == "pytest" and name in EXPECTING:
            return True
        if name.startswith(HELPER_PREFIXES) and name not in under_test and owner not in under_test:
            return True
    return False


def test_functions(tree):
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test"):
            yield node


def python_files(paths):
    for path in paths:
        if os.path.isfile(path):
            yield path
            continue
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__pycache__")
            for name in sorted(files):
                if name.startswith("test_") and name.endswith(".py"):
                    yield os.path.join(root, name)


def main(argv):
    found = []
    for path in python_files(argv or ["tests"]):
        with open(path) as handle:
            tree = ast.parse(handle.read(), path)
        under_test = plugin_names(tree)
        for function in test_functions(tree):
            if not can_fail(function, under_test):
                found.append("%s:%d:%s" % (path, function.lineno, function.name))
    for line in found:
        print("%s: no assert, no pytest.raises/warns, no assert_/check_/expect_ helper: it cannot fail" % line)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
