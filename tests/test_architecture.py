"""The house keeps its shape: careleaf's parts are folders in layers, each importing only its own layer and
those below it, with no import circle anywhere (in careleaf/ or bench/), and no module grown past a size a
reader can hold in mind.

A failure here names the import that runs back up or closes a circle: move the helper it needs down to
the layer that owns that fact, rather than importing upwards.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "careleaf"

# Bottom to top. A module may import its own layer and any layer before it in this list.
LAYERS = ("errors", "project", "content", "pdf", "leaflet", "build", "review", "handout", "desk", "web", "cli")

MAX_LINES = 450
# Modules allowed past MAX_LINES, each with the reason it earns it.
LONG_MODULES: dict[str, str] = {
    "careleaf/leaflet/figures.py": "the timeline's layout is one algorithm: measuring words, packing milestones into rows "
                                   "and drawing them share private state (_Sizes, _Item, _Row); its SVG shapes are apart",
}


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(root: Path) -> dict[str, Path]:
    return {module_name(path, root): path for path in sorted(root.rglob("*.py"))}


def imports(path: Path, known: dict[str, Path]) -> list[tuple[str, int]]:
    """Every module of ``known`` that the file imports, anywhere in it (a delayed import still runs up)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name:
                found.append((name, node.lineno))
    return found


def layer_of(module: str) -> int | None:
    parts = module.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 and parts[1] in LAYERS else None


def graph(root: Path) -> dict[str, set[str]]:
    known = modules(root)
    return {name: {target for target, _ in imports(path, known) if target != name} for name, path in known.items()}


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in edges.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_every_part_of_careleaf_is_a_layer_folder_or_a_bottom_module():
    parts = {path.name.removesuffix(".py") for path in PACKAGE.iterdir()
             if (path.suffix == ".py" and path.name != "__init__.py") or (path / "__init__.py").is_file()}
    assert parts == set(LAYERS), f"add a new part to LAYERS, in its place: {sorted(parts ^ set(LAYERS))}"
    for folder in PACKAGE.iterdir():
        if (folder / "__init__.py").is_file():
            assert ast.get_docstring(ast.parse((folder / "__init__.py").read_text("utf-8"))), \
                f"{folder.name}/__init__.py needs a docstring saying what the part owns"


def test_no_import_runs_back_up_a_layer():
    known = modules(PACKAGE)
    upward = []
    for name, path in known.items():
        here = layer_of(name)
        for target, line in imports(path, known):
            there = layer_of(target)
            if name == "careleaf" and target != "careleaf":
                upward.append(f"careleaf/__init__.py:{line} imports {target}")
            elif here is not None and there is not None and there > here:
                upward.append(f"{path.relative_to(ROOT)}:{line}: {LAYERS[here]} imports {target} "
                              f"({LAYERS[there]} is above it)")
    assert not upward, "\n".join(upward)


def test_no_import_circle_in_careleaf():
    assert circles(graph(PACKAGE)) == []


def test_no_import_circle_in_bench():
    edges = {name: set() for name in (path.stem for path in (ROOT / "bench").glob("*.py"))}
    for path in (ROOT / "bench").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
            edges[path.stem] |= {name for name in names if name in edges and name != path.stem}
    assert circles(edges) == []


def test_modules_stay_a_size_a_reader_can_hold():
    long = {str(path.relative_to(ROOT)): len(path.read_text("utf-8").splitlines())
            for path in PACKAGE.rglob("*.py")}
    over = {path: lines for path, lines in long.items() if lines > MAX_LINES and path not in LONG_MODULES}
    assert not over, f"split these along a seam, or say in LONG_MODULES why one earns its length: {over}"


def test_the_layer_check_catches_an_upward_import(tmp_path):
    """The checks above would fail on a package that breaks them."""
    package = tmp_path / "careleaf"
    for folder, source in {"content": "from careleaf.web import app\n", "web": "from careleaf.content import x\n"}.items():
        (package / folder).mkdir(parents=True)
        (package / folder / "__init__.py").write_text('"""A part."""\n')
        (package / folder / ("x.py" if folder == "content" else "app.py")).write_text(source)
    (package / "__init__.py").write_text("")
    edges = graph(package)
    assert circles(edges) == [["careleaf.content.x", "careleaf.web.app"]]
    assert layer_of("careleaf.content.x") < layer_of("careleaf.web.app")
