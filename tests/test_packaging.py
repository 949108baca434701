"""The installed package: a wheel built from this tree, installed into a fresh virtual environment, speaks.

The fresh venv gets the project's dependencies from the development venv through a ``.pth`` path
entry (so nothing is downloaded), but not its editable install of vaesynth: the wheel is the only
vaesynth it can import, and its shipped models must come from the wheel's package data.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import tomllib
import venv
from pathlib import Path

import pytest
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
# the fresh venv must not see the source tree through PYTHONPATH (the tests run with the checkout on it)
FRESH_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = Path(tmp_path_factory.mktemp("wheel"))
    res = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(tmp), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if res.returncode != 0:
        pytest.fail(f"building the wheel failed: {res.stderr[-1500:]}")
    wheel = next(tmp.glob("vaesynth-*.whl"))
    env_dir = tmp / "fresh"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    site = Path(
        subprocess.check_output([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True)
        .strip()
    )
    (site / "vaesynth-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")  # dependencies, not vaesynth
    res = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--target", str(site), str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr[-1500:]
    return python


def test_every_package_of_the_source_is_listed_for_the_wheel() -> None:
    """pyproject.toml lists the packages explicitly: a new subpackage missing there would be left out of the wheel."""
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for top in ("vaesynth", "training")
        for p in (ROOT / top).rglob("__init__.py")
    }
    assert found <= listed, f"packages missing from [tool.setuptools] packages: {sorted(found - listed)}"
    assert {"vaesynth.dsp", "vaesynth.model", "vaesynth.cli"} <= found  # the scan saw the subpackages


def test_the_wheel_carries_the_shipped_models_and_speaks(installed: Path, tmp_path: Path) -> None:
    where = subprocess.check_output(
        [installed, "-c", "import vaesynth.model.catalog as b; print(b.__file__); print(b.default_models_dir())"],
        text=True,
        cwd=tmp_path,
        env=FRESH_ENV,
    ).split()
    assert str(ROOT) not in where[0], "the fresh venv imported the source tree, not the wheel"
    assert where[1].endswith("vaesynth/resources/models")
    res = subprocess.run(
        [installed, "-m", "vaesynth", "say", "7", "-o", "x.wav", "--seed", "1"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env=FRESH_ENV,
    )
    assert res.returncode == 0, res.stderr
    info = sf.info(str(tmp_path / "x.wav"))
    assert info.samplerate == 8000 and info.duration > 0.2
    listing = subprocess.check_output([installed, "-m", "vaesynth", "models"], text=True, cwd=tmp_path, env=FRESH_ENV)
    assert listing.splitlines()[1].startswith("cvae")
