"""The package's layout rules (issue 18, docs/architecture.md), checked by reading the source.

Every ``import`` and ``from ... import`` in every module of ``spanalysis/`` is read with
``ast`` (at the top of a module and inside functions alike; relative imports resolved), and:

(a) floors: a module imports only its own package or packages on lower floors;
(b) there is no import cycle between packages;
(c) no private name (``_x``) is imported from, or read off, another package;
(d) no data passes between modules through ``DataFrame.attrs``;
(e) no module is over 1,000 lines and no function over 120 lines;
(f) thread and process pools (``concurrent.futures``, ``threading``) live in ``report/`` only.

Each assertion message lists the offenders as ``file:line``. Run this file on its own to see
the import graph between packages: ``python tests/test_architecture.py``.
"""
from __future__ import annotations

import ast
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "spanalysis"

# The floors, lowest first. A unit is a subpackage (``spanalysis.study``) or, on the bottom and
# top floors, a single module (``spanalysis.io``, ``spanalysis.cli``).
FLOORS = {
    "spanalysis.errors": 0, "spanalysis.io": 0, "spanalysis.version": 0,
    "spanalysis.plotting": 0, "spanalysis.processes": 0,
    "spanalysis.privacy": 1,
    "spanalysis.instruments": 2, "spanalysis.qual": 2, "spanalysis.demo": 2,
    "spanalysis.study": 3,
    "spanalysis.change": 4,
    "spanalysis.integrate": 5,
    "spanalysis.report": 6,
    "spanalysis.cli": 7, "spanalysis.commands": 7, "spanalysis": 7, "spanalysis.__main__": 7,
}
# Floors made of single modules rather than one package: their modules may import each other
# (the base modules are the building blocks; the command line and the root package are one
# top floor).
MODULE_FLOORS = {0, 7}
# Imports across units on the same floor that are allowed: the demo generator writes answers
# for the instruments and texts for the qualitative wing. Nothing else on floor 2 is shared.
SAME_FLOOR_ALLOWED = {("spanalysis.demo", "spanalysis.instruments"),
                      ("spanalysis.demo", "spanalysis.qual")}

MAX_MODULE_LINES = 1000
MAX_FUNCTION_LINES = 120
LONG_MODULES_ALLOWED = {"spanalysis/demo/text_banks.py"}  # sentences, not code
# BeautifulSoup tags have ``.attrs`` (their HTML attributes): the report's last pass cleans
# them. These are not DataFrame.attrs and carry nothing between modules.
ATTRS_ALLOWED_FILES = {"spanalysis/report/render.py"}
POOL_MODULES = ("concurrent.futures", "threading")
POOLS_ALLOWED_UNDER = "spanalysis/report/"


@dataclass(frozen=True)
class Import:
    file: str          # path from the repository root
    line: int
    source: str        # the importing module, dotted
    target: str        # the imported module, dotted (the deepest module that exists)
    names: tuple       # the names taken from it (``from x import a, b``), else ()

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def is_module(dotted: str) -> bool:
    """Whether ``dotted`` (``spanalysis.x.y``) names a module or package in the source tree."""
    path = REPO.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def unit_of(dotted: str) -> str:
    """The floor unit a module belongs to: ``spanalysis.study.loader`` -> ``spanalysis.study``."""
    parts = dotted.split(".")
    return ".".join(parts[:2])


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


@lru_cache(maxsize=None)
def modules() -> tuple:
    return tuple(sorted(p for p in PACKAGE.rglob("*.py")))


@lru_cache(maxsize=None)
def parsed(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def rel(path: Path) -> str:
    return path.relative_to(REPO).as_posix()


def imports_of(path: Path) -> list[Import]:
    """Every import in ``path`` that names a spanalysis module, with relative imports
    resolved. ``from pkg import name`` targets ``pkg.name`` when that is a module, else
    ``pkg`` itself (the name is then read from ``pkg``'s ``__init__``)."""
    source = module_name(path)
    package = source if path.name == "__init__.py" else source.rpartition(".")[0]
    found = []
    for node in ast.walk(parsed(path)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "spanalysis":
                    found.append(Import(rel(path), node.lineno, source, alias.name, ()))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module or ""
            if origin.split(".")[0] != "spanalysis":
                continue
            plain = []
            for alias in node.names:
                sub = f"{origin}.{alias.name}"
                if is_module(sub):
                    found.append(Import(rel(path), node.lineno, source, sub, ()))
                else:
                    plain.append(alias.name)
            if plain or not node.names:
                found.append(Import(rel(path), node.lineno, source, origin, tuple(plain)))
    return found


@lru_cache(maxsize=None)
def all_imports() -> tuple:
    return tuple(imp for path in modules() for imp in imports_of(path))


def floor_of(dotted: str):
    return FLOORS.get(unit_of(dotted)) if dotted != "spanalysis" else FLOORS["spanalysis"]


def unit(dotted: str) -> str:
    return "spanalysis" if dotted == "spanalysis" else unit_of(dotted)


def listing(items) -> str:
    items = sorted(set(items))
    return f"{len(items)} found:\n  " + "\n  ".join(items)


# (a) floors -------------------------------------------------------------------------------

def test_every_module_is_on_a_floor():
    lost = [f"{rel(p)}:1 ({module_name(p)})" for p in modules()
            if floor_of(module_name(p)) is None]
    assert not lost, ("modules on no floor (add them to a package, or to FLOORS here and in "
                      "docs/architecture.md): " + listing(lost))


def same_floor_imports() -> list[str]:
    """Imports across units on one floor that are not base or top modules (printed by
    ``python tests/test_architecture.py``)."""
    out = []
    for imp in all_imports():
        a, b = unit(imp.source), unit(imp.target)
        fa, fb = floor_of(imp.source), floor_of(imp.target)
        if a != b and fa is not None and fa == fb and fa not in MODULE_FLOORS:
            out.append(f"{imp.where}: {imp.source} -> {imp.target}")
    return out


def test_modules_import_only_their_own_package_or_lower_floors():
    upward, sideways = [], []
    for imp in all_imports():
        a, b = unit(imp.source), unit(imp.target)
        fa, fb = floor_of(imp.source), floor_of(imp.target)
        if a == b or fa is None or fb is None:
            continue  # modules on no floor are reported by test_every_module_is_on_a_floor
        line = f"{imp.where}: {imp.source} (floor {fa}) imports {imp.target} (floor {fb})"
        if fb > fa:
            upward.append(line)
        elif fb == fa and fa not in MODULE_FLOORS and (a, b) not in SAME_FLOOR_ALLOWED:
            sideways.append(line)
    assert not upward, "imports from a lower floor to a higher one: " + listing(upward)
    assert not sideways, ("imports between packages on the same floor (only demo may import "
                          "instruments and qual): " + listing(sideways))


# (b) no cycles between packages -------------------------------------------------------------

def package_graph() -> dict:
    """unit -> {imported unit: [file:line, ...]} over every import between two units."""
    graph = defaultdict(lambda: defaultdict(list))
    for imp in all_imports():
        a, b = unit(imp.source), unit(imp.target)
        if a != b:
            graph[a][b].append(imp.where)
    return graph


def cycles(graph) -> list[list[str]]:
    """The strongly connected groups of more than one unit (Tarjan's algorithm)."""
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(set(graph) | {w for ws in graph.values() for w in ws}):
        if v not in index:
            visit(v)
    return groups


def test_no_import_cycle_between_packages():
    graph = package_graph()
    found = []
    for group in cycles(graph):
        edges = [f"{a} -> {b} at {', '.join(graph[a][b])}"
                 for a in group for b in group if b in graph.get(a, {})]
        found.append(" <-> ".join(group) + ":\n    " + "\n    ".join(edges))
    assert not found, "import cycles between packages: " + listing(found)


# (c) no private names across packages -------------------------------------------------------

def private_uses() -> list[str]:
    out = []
    for path in modules():
        source = module_name(path)
        imports = imports_of(path)
        for imp in imports:
            if unit(imp.source) == unit(imp.target):
                continue
            parts = imp.target.split(".")[1:]
            hidden = [p for p in parts if is_private(p)]
            if hidden:
                out.append(f"{imp.where}: {source} imports the private module {imp.target}")
            out += [f"{imp.where}: {source} imports {n} from {imp.target}"
                    for n in imp.names if is_private(n)]
        # names bound to another package's modules, then read as ``module._name``
        bound = {}
        for node in ast.walk(parsed(path)):
            if isinstance(node, ast.ImportFrom) or isinstance(node, ast.Import):
                for alias in node.names:
                    for imp in imports:
                        if imp.line == node.lineno and not imp.names and \
                                imp.target.endswith("." + alias.name.split(".")[-1]):
                            bound[alias.asname or alias.name] = imp.target
        for node in ast.walk(parsed(path)):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                    and node.value.id in bound and is_private(node.attr) \
                    and unit(bound[node.value.id]) != unit(source):
                out.append(f"{rel(path)}:{node.lineno}: {source} reads "
                           f"{bound[node.value.id]}.{node.attr}")
    return out


def test_no_private_name_is_used_outside_its_package():
    found = private_uses()
    assert not found, "private names used across packages: " + listing(found)


# (d) no DataFrame.attrs ---------------------------------------------------------------------

def test_no_data_passes_between_modules_through_attrs():
    found = []
    for path in modules():
        if rel(path) in ATTRS_ALLOWED_FILES:
            continue
        for node in ast.walk(parsed(path)):
            if isinstance(node, ast.Attribute) and node.attr == "attrs":
                found.append(f"{rel(path)}:{node.lineno}: {ast.unparse(node)}")
    assert not found, ".attrs used (pass the data as a value instead): " + listing(found)


# (e) sizes ----------------------------------------------------------------------------------

def test_no_module_over_1000_lines():
    found = []
    for path in modules():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_MODULE_LINES and rel(path) not in LONG_MODULES_ALLOWED:
            found.append(f"{rel(path)}:1: {lines} lines")
    assert not found, f"modules over {MAX_MODULE_LINES} lines: " + listing(found)


def test_no_function_over_120_lines():
    found = []
    for path in modules():
        for node in ast.walk(parsed(path)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    found.append(f"{rel(path)}:{node.lineno}: {node.name} {lines} lines")
    assert not found, f"functions over {MAX_FUNCTION_LINES} lines: " + listing(found)


# (f) pools in report/ only ------------------------------------------------------------------

def test_thread_and_process_pools_only_in_report():
    found = []
    for path in modules():
        if rel(path).startswith(POOLS_ALLOWED_UNDER):
            continue
        for node in ast.walk(parsed(path)):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                names = [node.module]
            for name in names:
                if any(name == m or name.startswith(m + ".") for m in POOL_MODULES):
                    found.append(f"{rel(path)}:{node.lineno}: import {name}")
    assert not found, "thread or process pools outside spanalysis/report/: " + listing(found)


# the checker itself ------------------------------------------------------------------------

def test_the_import_walk_resolves_relative_imports_and_sees_imports_in_functions(tmp_path,
                                                                                 monkeypatch):
    root = tmp_path / "spanalysis"
    (root / "study").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "errors.py").write_text("")
    (root / "study" / "__init__.py").write_text("")
    (root / "study" / "other.py").write_text("")
    mod = root / "study" / "loader.py"
    mod.write_text("from . import other\nfrom ..errors import InputError\n"
                   "def f():\n    from spanalysis.report import runner\n"
                   "    import spanalysis.change.paired\n")
    monkeypatch.setitem(globals(), "REPO", tmp_path)
    got = [(i.line, i.target, i.names) for i in imports_of(mod)]
    assert got == [(1, "spanalysis.study.other", ()), (2, "spanalysis.errors", ("InputError",)),
                   (4, "spanalysis.report", ("runner",)), (5, "spanalysis.change.paired", ())]


def test_cycles_are_found():
    graph = {"a": {"b": []}, "b": {"c": []}, "c": {"a": []}, "d": {"a": []}}
    assert cycles(graph) == [["a", "b", "c"]]


# the public API -----------------------------------------------------------------------------

PUBLIC_API = {"load_study", "validate_study", "Study", "score", "paired_change",
              "reliable_change", "coding_agreement", "build_reports",
              "study", "instruments", "qual", "change", "integrate", "privacy", "report"}


def test_tab_completion_shows_the_public_api_and_nothing_private():
    import spanalysis

    names = dir(spanalysis)
    missing = PUBLIC_API - set(names)
    assert not missing, f"missing from dir(spanalysis): {sorted(missing)}"
    # __version__ is the one dunder a user looks for; any other leading underscore is private
    hidden = [n for n in names if n.startswith("_") and n != "__version__"]
    assert not hidden, f"private names in dir(spanalysis): {hidden}"
    broken = [n for n in names if not hasattr(spanalysis, n)]
    assert not broken, f"names in dir(spanalysis) that cannot be read: {broken}"


if __name__ == "__main__":
    graph = package_graph()
    for a in sorted(graph, key=lambda u: (floor_of(u) if floor_of(u) is not None else -1, u)):
        print(f"{a} (floor {floor_of(a)}) imports: "
              + ", ".join(f"{b} ({floor_of(b)})" for b in sorted(graph[a])))
    print("imports between packages on the same floor:")
    print("\n".join("  " + s for s in same_floor_imports()) or "  none")
    raise SystemExit(pytest.main([__file__, "-q", "-p", "no:cacheprovider"]))
