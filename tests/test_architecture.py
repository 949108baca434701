"""The house rules of docs/architecture.md, checked on the source (so a change that breaks one fails here).

- The folders are the map: every module of ``vaesynth`` lives in one of the role subpackages
  (:data:`ROLES`), except the package's own ``__init__``/``__main__`` and ``digits`` (the ground floor).
- Arrows point down: ``vaesynth`` never imports ``training``; Qt stays in ``vaesynth.app``; torch stays
  out of the widgets (the app reaches it only through its engine thread); ``midi`` and ``sound`` know
  nothing of models; no import cycle anywhere in either package, not even through imports inside
  functions.
- Objects talk through public names: no module or test reads another object's ``_private`` attribute
  (third-party private hooks are listed explicitly where there is no public way).
- Small files: nothing in ``vaesynth/`` over :data:`MAX_LINES` lines.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 420
# sounddevice has no public way to re-scan devices after the sound server changes; PortAudio's own
# terminate/initialise is what its documentation suggests.
THIRD_PARTY_PRIVATE = {"sd._terminate", "sd._initialize", "sounddevice._terminate", "sounddevice._initialize"}
# vaesynth/ grouped by role (docs/architecture.md): the folder names are the map
ROLES = ("dsp", "sound", "model", "engine", "voices", "midi", "cli", "app")
TOP_LEVEL = {"vaesynth", "vaesynth.__main__", "vaesynth.digits"}


def modules(package: str) -> dict[str, Path]:
    base = ROOT / package
    return {
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): p
        for p in base.rglob("*.py")
    }


def imports(path: Path, module: str, top_level_only: bool) -> set[str]:
    """Absolute names of the modules that ``path`` imports (all, or only at module level)."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            out.add(prefix)
            out |= {f"{prefix}.{a.name}" for a in node.names}
    return out


ALL = {**modules("vaesynth"), **modules("training")}


def test_vaesynth_never_imports_training() -> None:
    for mod, path in modules("vaesynth").items():
        assert not any(i.split(".")[0] == "training" for i in imports(path, mod, False)), mod


def test_qt_stays_in_the_app_and_torch_out_of_the_widgets() -> None:
    for mod, path in modules("vaesynth").items():
        names = {i.split(".")[0] for i in imports(path, mod, False)}
        if not mod.startswith("vaesynth.app"):
            assert not names & {"PySide6", "pyqtgraph"}, f"{mod} imports Qt"
        elif mod != "vaesynth.app.engine":  # the engine thread is the app's one door to the models
            assert "torch" not in names, f"{mod} imports torch"
    heavy = ("vaesynth.model", "vaesynth.engine.synth", "torch")
    for mod, path in modules("vaesynth").items():
        if mod.startswith(("vaesynth.midi", "vaesynth.sound")):
            names = imports(path, mod, False)
            assert not {n for n in names if n.startswith(heavy)}, f"{mod} knows of models"


def test_the_folders_are_the_map() -> None:
    """Every runtime module lives in a role subpackage (or is the package itself, __main__ or digits)."""
    mods = modules("vaesynth")
    assert {f"vaesynth.{r}" for r in ROLES} <= set(mods), "a role subpackage is missing"
    stray = sorted(m for m in mods if m not in TOP_LEVEL and m.split(".")[1] not in ROLES)
    assert not stray, f"modules outside the role subpackages: {stray}"


def import_graph(mods: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the modules of ``mods`` it imports anywhere (imports inside functions included).

    ``from package import name`` counts as importing ``package.name`` when that is a module; a
    package's ``__init__`` counts as importing what it imports (a module importing a submodule also
    runs its package's ``__init__``, but that adds no edge of its own here).
    """
    return {m: {i for i in imports(p, m, False) if i in mods and i != m} for m, p in mods.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each as a cycle path."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(cycle_path(graph, set(component)))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return found


def cycle_path(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    """One cycle through the component's first module: a -> b -> ... -> a (breadth first, so short)."""
    start = min(component)
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(graph[v] & component):
                if w == start:
                    path = [v]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if w not in came_from:
                    came_from[w] = v
                    nxt.append(w)
        frontier = nxt
    return sorted(component)


def test_cycle_finder_finds_cycles() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}}
    assert cycles(graph) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


@pytest.mark.parametrize("package", ["vaesynth", "training"])
def test_no_import_cycles(package: str) -> None:
    graph = import_graph(modules(package))
    assert sum(len(v) for v in graph.values()) > 5  # the parser saw the imports
    found = cycles(graph)
    assert not found, "import cycles: " + "; ".join(" -> ".join(c) for c in found)


def test_no_import_cycles_across_the_packages() -> None:
    graph = import_graph(ALL)
    found = cycles(graph)
    assert not found, "import cycles: " + "; ".join(" -> ".join(c) for c in found)


def test_nobody_reads_another_objects_private_names() -> None:
    found = []
    files = [*ALL.values(), *(ROOT / "tests").glob("*.py"), *(ROOT / "bench").glob("*.py")]
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
                owner = node.value
                if isinstance(owner, ast.Name) and owner.id in ("self", "cls"):
                    continue
                if ast.unparse(node) in THIRD_PARTY_PRIVATE:
                    continue
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)}")
            elif isinstance(node, ast.ImportFrom):
                found += [
                    f"{path.relative_to(ROOT)}:{node.lineno}: imports {a.name}"
                    for a in node.names
                    if a.name.startswith("_") and not a.name.startswith("__")
                ]
    assert not found, "\n".join(found)


def test_files_stay_small() -> None:
    sizes = {mod: len(path.read_text().splitlines()) for mod, path in modules("vaesynth").items()}
    assert max(sizes.values()) <= MAX_LINES, {m: n for m, n in sizes.items() if n > MAX_LINES}
    assert sizes["vaesynth.app.main_window"] <= 300
