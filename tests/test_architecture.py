"""The package's import graph, read from the source: the README's layer table is complete, every import of the
package's own modules is at the top of its module (no import hidden inside a function to dodge a cycle; an
exercise's solution block, notebook code pasted into a notebook cell, imports what it uses), no import goes back up
the layers, and there is no cycle.

    .venv/bin/python -m pytest tests/test_architecture.py -s      # also prints the graph, layer by layer
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "ssl_helpers"


def unit_of(module: str) -> str:
    """The unit the layer table names: a top-level module (`ssl_helpers.train` -> "train") or a sub-package
    (`ssl_helpers.methods.simclr` -> "methods/")."""
    parts = module.split(".")[1:]
    if not parts:
        return "__init__"
    return parts[0] + "/" if (PACKAGE / parts[0]).is_dir() else parts[0]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def solution_lines(source: str) -> set:
    """The lines of the exercises' solution blocks (`# BEGIN SOLUTION` ... `# END SOLUTION`): notebook code that
    `scripts/exercise_versions.py` pastes into a notebook cell in place of the stub, so it imports what it uses."""
    lines, inside = set(), False
    for number, line in enumerate(source.splitlines(), 1):
        if "END SOLUTION" in line:
            inside = False
        if inside:
            lines.add(number)
        if "BEGIN SOLUTION" in line:
            inside = True
    return lines


def own_imports(path: Path, modules: set) -> list:
    """[(line, imported module, allowed where it is?)] for every import of the package's own modules in `path`:
    allowed at the top level of the module (a class body included), or inside an exercise's solution block."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    source = path.read_text()
    solution = solution_lines(source)
    found = []

    def visit(node, nested: bool):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                targets = [alias.name for alias in child.names]
            elif isinstance(child, ast.ImportFrom):
                base = package.split(".")[:len(package.split(".")) - (child.level - 1)] if child.level else []
                target = ".".join(base + ([child.module] if child.module else [])) if child.level else child.module
                targets = [f"{target}.{alias.name}" if f"{target}.{alias.name}" in modules else target
                           for alias in child.names]
            else:
                targets = []
            found.extend((child.lineno, t, not nested or child.lineno in solution)
                         for t in dict.fromkeys(targets) if t in modules and t != module)
            visit(child, nested or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    visit(ast.parse(source), False)
    return found


def package_graph():
    paths = sorted(PACKAGE.rglob("*.py"))
    modules = {module_name(p) for p in paths}
    return {module_name(p): own_imports(p, modules) for p in paths}


def layer_table() -> list:
    """The README's layer table: [(layer, [units])], top layer (imports nothing of ours) first."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Architecture"):]
    table = section[section.index("| layer |"):].split("\n\n")[0].splitlines()[2:]  # below the header row
    layers = []
    for row in table:
        layer, units = row.split("|")[1:3]
        layers.append((layer.strip(), re.findall(r"`(\w+/?)`", re.sub(r"\([^()]*\)", "", units))))
    return layers


def layer_of() -> dict:
    return {unit: i for i, (_, units) in enumerate(layer_table()) for unit in units}


def cycles(edges: dict) -> list:
    """The strongly connected components with more than one node (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def connect(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in edges.get(node, ()):
            if other not in index:
                connect(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                other = stack.pop()
                on_stack.discard(other)
                component.append(other)
                if other == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in list(edges):
        if node not in index:
            connect(node)
    return found


def test_the_layer_table_names_every_module_once():
    units = {unit_of(m) for m in package_graph()} - {"__init__"}
    listed = [unit for _, names in layer_table() for unit in names]
    assert sorted(set(listed)) == sorted(listed), f"listed twice in the README's layer table: {listed}"
    assert sorted(units - set(listed)) == [], "modules missing from the README's layer table"
    assert sorted(set(listed) - units) == [], "the README's layer table names modules that do not exist"


def test_no_import_of_the_package_inside_a_function():
    hidden = [f"{module}:{line} imports {target}" for module, imports in package_graph().items()
              for line, target, allowed in imports if not allowed]
    assert hidden == []


def test_no_import_goes_up_the_layers_and_no_cycle():
    layer = layer_of()
    upward = []
    edges = {}
    for module, imports in package_graph().items():
        for line, target, _ in imports:
            edges.setdefault(module, set()).add(target)
            source_unit, target_unit = unit_of(module), unit_of(target)
            if "__init__" in (source_unit, target_unit) or source_unit == target_unit:
                continue
            if layer[target_unit] > layer[source_unit]:
                upward.append(f"{module}:{line} ({layer_table()[layer[source_unit]][0]}) imports {target} "
                              f"({layer_table()[layer[target_unit]][0]})")
    assert upward == []
    assert cycles(edges) == []


def test_the_graph_report(capsys):
    """Print the graph by layer (run with -s to see it): each unit and the units it imports."""
    layer, graph = layer_of(), package_graph()
    uses = {}
    for module, imports in graph.items():
        for _, target, _ in imports:
            if unit_of(module) != unit_of(target) and "__init__" not in (unit_of(module), unit_of(target)):
                uses.setdefault(unit_of(module), set()).add(unit_of(target))
    lines = []
    for i, (name, units) in enumerate(layer_table()):
        lines.append(f"{i} {name}")
        lines += [f"    {unit:<12} -> {', '.join(sorted(uses.get(unit, ()), key=lambda u: layer.get(u, -1))) or '-'}" for unit in units]
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    assert len(lines) == len(layer_table()) + len(layer)
