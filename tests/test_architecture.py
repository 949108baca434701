"""The house rules of docs/architecture.md, checked on the source (so a change that breaks one fails here).

- Arrows point down: ``vaesynth`` never imports ``training``; Qt stays in ``vaesynth.app``; torch stays
  out of the widgets (the app reaches it only through its engine thread); ``midi`` and ``audio`` know
  nothing of models; no import cycles among the modules of either package.
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
    for mod in ("vaesynth.sound.audio", "vaesynth.midi.midi"):
        if mod in ALL:
            names = imports(ALL[mod], mod, False)
            models = ("vaesynth.model.models", "vaesynth.engine.synth", "torch")
            assert not {n for n in names if n.startswith(models)}, mod


@pytest.mark.parametrize(
    ("package", "top_level_only"),
    [("vaesynth", True), ("training", False)],  # training: no cycle even through imports inside functions
)
def test_no_import_cycles(package: str, top_level_only: bool) -> None:
    mods = modules(package)
    graph = {m: {i for i in imports(p, m, top_level_only) if i in mods and i != m} for m, p in mods.items()}
    assert sum(len(v) for v in graph.values()) > 5  # the parser saw the imports
    done: set[str] = set()

    def visit(m: str, stack: tuple[str, ...]) -> None:
        assert m not in stack, f"import cycle: {' -> '.join((*stack, m))}"
        if m in done:
            return
        for dep in sorted(graph[m]):
            visit(dep, (*stack, m))
        done.add(m)

    for m in sorted(graph):
        visit(m, ())


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
