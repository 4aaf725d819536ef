"""The floor plan (docs/ARCHITECTURE.md, "Floors"), read from the imports: nothing imports upward, no two
modules import each other in a circle, and every file and function stays small enough to hold in one's head."""
from __future__ import annotations

import ast
import pathlib

REPO = pathlib.Path(__file__).resolve().parents[1]
FLOORS = {"world": 0, "models": 1, "evaluation": 2, "demo": 3, "scripts": 4, "spaces_config": 4}


def sources() -> dict[str, pathlib.Path]:
    found = {}
    for top in FLOORS:
        for path in sorted((REPO / top).rglob("*.py")):
            parts = list(path.relative_to(REPO).with_suffix("").parts)
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imported(path: pathlib.Path, name: str):
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            yield from (f"{base}.{alias.name}" for alias in node.names)


def graph() -> dict[str, set[str]]:
    files = sources()
    edges = {}
    for name, path in files.items():
        edges[name] = set()
        for target in imported(path, name):
            parts = target.split(".")
            for k in range(len(parts), 0, -1):
                if ".".join(parts[:k]) in files and ".".join(parts[:k]) != name:
                    edges[name].add(".".join(parts[:k]))
                    break
    return edges


def test_no_import_runs_up_a_floor():
    upward = [f"{a} imports {b}" for a, targets in graph().items() for b in targets
              if FLOORS[b.split(".")[0]] > FLOORS[a.split(".")[0]]]
    assert upward == []


# Inside evaluation/, bottom to top (docs/ARCHITECTURE.md, "Inside evaluation/"): the ground holds what every floor
# reads (the run store, the prompt sets, the flag types, Markdown tables); a run fills the store, computes the
# metrics and writes the report, so runs/ stands above both; arena/ and perf/ stand beside report/, reading only
# floors below; the entry points (the package face, the Python API, the command line) on top. A sub-package
# imports only floors below its own, never a sibling on its floor.
EVALUATION_FLOORS = {"ground": 0, "metrics": 1, "report": 2, "arena": 2, "perf": 2, "runs": 3, "entry": 4}
EVALUATION_ENTRY = {"evaluation", "evaluation.__main__", "evaluation.api"}


def evaluation_room(name: str) -> str:
    """The sub-package of evaluation/ a module stands in: ground for the files at evaluation/'s top, entry for the
    entry points."""
    if name in EVALUATION_ENTRY:
        return "entry"
    parts = name.split(".")
    return parts[1] if len(parts) > 1 and (REPO / "evaluation" / parts[1] / "__init__.py").is_file() else "ground"


def test_evaluation_sub_packages_import_only_floors_below():
    packages = {path.parent.name for path in (REPO / "evaluation").glob("*/__init__.py")}
    assert packages == set(EVALUATION_FLOORS) - {"ground", "entry"}  # a new sub-package is given its floor here
    upward = [f"{a} ({evaluation_room(a)}) imports {b} ({evaluation_room(b)})"
              for a, targets in graph().items() if a.split(".")[0] == "evaluation"
              for b in targets if b.split(".")[0] == "evaluation" and evaluation_room(a) != evaluation_room(b)
              and EVALUATION_FLOORS[evaluation_room(b)] >= EVALUATION_FLOORS[evaluation_room(a)]]
    assert upward == []


def test_no_circle_of_imports():
    edges, state, circles = graph(), {}, []

    def visit(node, path):
        state[node] = "open"
        for nxt in sorted(edges[node]):
            if state.get(nxt) == "open":
                circles.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    assert circles == []


def test_files_and_functions_stay_small():
    large = []
    for path in sources().values():
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > 400:
            large.append(f"{path.relative_to(REPO)}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= 60:
                large.append(f"{path.relative_to(REPO)}:{node.lineno} {node.name}()")
    assert large == []


def test_no_comment_points_outside_the_repository():
    cited = [str(p.relative_to(REPO)) for p in sources().values()
             if "DESIGN.md" in p.read_text(encoding="utf-8") or "WORLD.md" in p.read_text(encoding="utf-8")]
    assert cited == []


def test_every_package_floor_is_installed():
    import tomllib

    include = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = [top for top in FLOORS if (REPO / top / "__init__.py").is_file()]
    assert packages and all(f"{top}*" in include for top in packages), (packages, include)
