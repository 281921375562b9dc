"""The package's layout rules (docs/architecture.md), checked on the source of the installed
package: no import cycle between fastnn's modules, no module reaching into another module's
private (underscore) names, no C source hidden in a Python string, and compiled kernels that do
not import the NumPy twins.

Imports are read with ``ast`` from the source tree beside this test directory (the .pyx files are
not installed).  Function-level imports count too (a cycle through a lazy import is still a cycle
for a reader).
"""
import ast
import os
import re

import pytest

ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fastnn")
pytestmark = pytest.mark.skipif(not os.path.isdir(os.path.join(ROOT, "kernels")),
                                reason="needs the source tree beside tests/")

# Names that start with an underscore but are a module's documented interface to its package:
# private *modules* of fastnn (fastnn._validate, fastnn._config, fastnn.kernels._gemm, ...) are
# fine to import; what is checked is a private NAME taken from another module.
_ALLOWED_PRIVATE_NAMES = {"__version__", "__all__", "__doc__", "__name__", "__file__"}


def _sources():
    for dirpath, dirnames, filenames in os.walk(ROOT):
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        for name in filenames:
            if name.endswith(".py"):
                yield os.path.join(dirpath, name)


def _module_name(path):
    rel = os.path.relpath(path, os.path.dirname(ROOT))[:-3].replace(os.sep, ".")
    return rel[:-len(".__init__")] if rel.endswith(".__init__") else rel


def _resolve(module, level, current, is_package):
    """Absolute module name of ``from <level dots><module> import ...`` inside ``current``."""
    if level == 0:
        return module
    parts = current.split(".")
    base = parts if is_package else parts[:-1]
    base = base[:len(base) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def _imports(path):
    """[(imported module, [names imported from it or None], lineno)] of one source file."""
    current = _module_name(path)
    is_package = path.endswith("__init__.py")
    tree = ast.parse(open(path, encoding="utf-8").read(), filename=path)
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                out.append((alias.name, None, node.lineno))
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(node.module, node.level, current, is_package)
            out.append((target, [a.name for a in node.names], node.lineno))
    return current, out


def _known_modules():
    """Every module of the package: the .py sources and the compiled .pyx extensions."""
    known = {_module_name(p) for p in _sources()}
    kernels = os.path.join(ROOT, "kernels")
    known.update("fastnn.kernels." + n[:-4] for n in os.listdir(kernels) if n.endswith(".pyx"))
    return known


def _graph():
    known = _known_modules()
    graph = {}
    for path in _sources():
        current, imports = _imports(path)
        edges = set()
        for target, names, _ in imports:
            if not target.startswith("fastnn"):
                continue
            for name in names or [None]:
                sub = "%s.%s" % (target, name) if name else None
                if sub in known:
                    edges.add(sub)
                elif target in known:
                    edges.add(target)
        edges.discard(current)
        graph[current] = edges
    return graph


def _parents(module):
    parts = module.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts))}


def test_no_import_cycle():
    graph = _graph()
    # A package's __init__ importing its own submodules, and a submodule importing names that
    # its parent package re-exports, is how packages work; a cycle is a path back to a module
    # through modules that are not its own package or parents.
    state, stack, cycles = {}, [], []

    def visit(m):
        state[m] = 1
        stack.append(m)
        for n in sorted(graph.get(m, ())):
            if n in _parents(m) or m in _parents(n):
                continue
            if state.get(n) == 1:
                cycles.append(stack[stack.index(n):] + [n])
            elif n not in state:
                visit(n)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)
    assert not cycles, "import cycles: %s" % [" -> ".join(c) for c in cycles]


def test_no_private_names_taken_from_other_modules():
    known = _known_modules()
    bad = []
    for path in _sources():
        current, imports = _imports(path)
        for target, names, line in imports:
            if not target.startswith("fastnn") or names is None:
                continue
            for name in names:
                if "%s.%s" % (target, name) in known:     # a submodule, private or not
                    continue
                if name.startswith("_") and name not in _ALLOWED_PRIVATE_NAMES \
                        and target != current:
                    bad.append("%s:%d imports %s from %s" % (os.path.relpath(path, ROOT), line,
                                                             name, target))
        # attribute access into a module imported under its own name: `optim._NAMES`
        src = open(path, encoding="utf-8").read()
        for m in re.finditer(r"\b(_?[a-z][a-z_]*)\._([A-Za-z][A-Za-z0-9_]*)\b", src):
            alias, attr = m.group(1), m.group(2)
            if alias in ("self", "cls", "np", "os", "sys", "math", "_v", "e", "exc") \
                    or alias.startswith("__") \
                    or any(k.endswith(".%s._%s" % (alias, attr)) for k in known):
                continue
            imported = [t for t, names, _ in imports if names and alias in names
                        or t.rsplit(".", 1)[-1] == alias]
            if any(t.startswith("fastnn") and "%s.%s" % (t, alias) in known
                   or t.endswith("." + alias) and t in known for t in imported):
                line = src.count("\n", 0, m.start()) + 1
                bad.append("%s:%d uses %s._%s" % (os.path.relpath(path, ROOT), line, alias,
                                                  attr))
    assert not bad, "private names used across modules:\n" + "\n".join(bad)


def test_compiled_kernels_do_not_import_the_twins():
    kernels = os.path.join(ROOT, "kernels")
    for name in sorted(os.listdir(kernels)):
        if name.endswith(".pyx"):
            src = open(os.path.join(kernels, name), encoding="utf-8").read()
            imports = re.findall(r"^\s*(?:from|import|cimport)\s+(\S+)", src, flags=re.M)
            assert not [m for m in imports if "reference" in m], (name, imports)


def test_no_c_source_in_python_strings():
    kernels = os.path.join(ROOT, "kernels")
    for name in sorted(os.listdir(kernels)):
        if name.endswith((".pyx", ".pxd")):
            src = open(os.path.join(kernels, name), encoding="utf-8").read()
            assert not re.search(r'cdef extern from \*:\s*\n\s*"""', src), \
                "%s holds C source in a Python string (move it to src_c/)" % name
