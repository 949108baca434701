"""Fuzzing bundles and digit strings: hostile input is one readable line, never a traceback or a huge allocation.

A few hundred mutated bundle configs (wrong types, out-of-range sizes, NaN, deep nesting, control
characters) and corrupted weights run in a child process, which reports every outcome and its peak
resident memory; the parent asserts each failure is one :class:`BundleError` line and that memory
stayed under a stated bound.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from training.bundling import untrained_bundle
from vaesynth.digits import parse_digits

ROOT = Path(__file__).resolve().parents[1]
N_CASES = 300
RSS_BOUND_MB = 1200  # the child's peak RSS over all cases (torch alone is ~400 MB; one shipped-size model ~10 MB)

HOSTILE_VALUES = [
    None, True, -1, 0, 10**9, 10**18, 2e6, 1e308, float("nan"), "x", "\x1b[31mred\x1b[0m", [], {}, [1, 2], -1e30,
    "9" * 500,
]  # fmt: skip
FIELDS = [
    ("model", "params", "latent_dim"), ("model", "params", "channels"), ("model", "params", "digit_dim"),
    ("model", "params", "n_blocks"), ("model", "params", "head"), ("model", "params", "n_ceps"), ("model", "type"),
    ("model", "params"), ("model",), ("spectral", "n_fft"), ("spectral", "hop"), ("spectral", "max_frames"),
    ("spectral", "sample_rate"), ("spectral", "peak"), ("spectral", "db_min"), ("spectral", "db_max"),
    ("spectral", "trim_db"), ("spectral",), ("speakers",), ("latent_dim",), ("name",), ("display_name",),
    ("metrics",), ("format_version",),
]  # fmt: skip

CHILD = r"""
import json, resource, sys, traceback
from pathlib import Path
from vaesynth.model.bundle import BundleError, load_bundle
out = []
for case in sorted(Path(sys.argv[1]).iterdir()):
    try:
        b = load_bundle(case)
        out.append([case.name, "ok", ""])
    except BundleError as e:
        out.append([case.name, "error", str(e)])
    except BaseException as e:  # a traceback: the test fails on it
        out.append([case.name, "crash", traceback.format_exc()[-800:]])
# VmHWM: this process's peak resident memory (getrusage's ru_maxrss would include the forking parent's)
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")]
peak_mb = int(hwm[0].split()[1]) / 1024 if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"results": out, "peak_mb": peak_mb}))
"""


def _set(config: dict, path: tuple[str, ...], value: object) -> None:
    node = config
    for key in path[:-1]:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    node[path[-1]] = value


def _make_cases(root: Path, base: Path) -> None:
    rng = np.random.default_rng(1234)
    config = json.loads((base / "config.json").read_text())
    weights = (base / "weights.safetensors").read_bytes()
    for i in range(N_CASES):
        case = root / f"case{i:03d}"
        case.mkdir()
        c = json.loads(json.dumps(config))
        kind = i % 10
        text: str | None = None
        w = weights
        if kind < 7:  # one or two fields set to hostile values
            for _ in range(1 + (i % 2)):
                path = FIELDS[rng.integers(len(FIELDS))]
                _set(c, path, HOSTILE_VALUES[rng.integers(len(HOSTILE_VALUES))])
        elif kind == 7:  # deep nesting somewhere
            depth = int(rng.choice([40, 5000, 200_000]))
            text = json.dumps(c)[:-1] + ', "metrics": ' + "[" * depth + "]" * depth + "}"
        elif kind == 8:  # corrupted or truncated weights
            cut = int(rng.integers(0, len(weights)))
            w = weights[:cut] if i % 20 < 10 else weights[:cut] + bytes(rng.integers(0, 256, 64, dtype=np.uint8))
        else:  # a size field scaled up and matching nothing
            _set(c, ("model", "params", "channels"), int(rng.choice([97, 1024, 4096, 10**6])))
            _set(c, ("spectral", "max_frames"), int(rng.choice([112, 4096, 10**7])))
        (case / "config.json").write_text(text if text is not None else json.dumps(c))
        (case / "weights.safetensors").write_bytes(w)


@pytest.fixture(scope="module")
def fuzz_results(tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = Path(tmp_path_factory.mktemp("fuzz"))
    base = untrained_bundle("cvae", tmp / "base")
    cases = tmp / "cases"
    cases.mkdir()
    _make_cases(cases, base)
    res = subprocess.run(
        [sys.executable, "-c", CHILD, str(cases)], capture_output=True, text=True, timeout=600, cwd=ROOT
    )
    assert res.returncode == 0, res.stderr[-2000:]
    return json.loads(res.stdout.strip().splitlines()[-1])


def test_every_hostile_bundle_is_one_readable_line(fuzz_results: dict) -> None:
    results = fuzz_results["results"]
    assert len(results) == N_CASES
    crashes = [r for r in results if r[1] == "crash"]
    assert not crashes, crashes[:3]
    errors = [r[2] for r in results if r[1] == "error"]
    assert len(errors) > N_CASES * 0.8  # most mutations must be caught, not silently accepted
    for message in errors:
        assert "\n" not in message and 0 < len(message) < 400, message
        assert "\x1b" not in message  # no escape codes reach a terminal


def test_fuzzing_stays_within_the_memory_bound(fuzz_results: dict) -> None:
    assert fuzz_results["peak_mb"] < RSS_BOUND_MB, fuzz_results["peak_mb"]


def test_fuzzed_digit_strings_are_one_line_or_digits() -> None:
    rng = np.random.default_rng(99)
    alphabet = list("0123456789 -()+.,/\t\nabcxyz\x00\x1b٣٤é") + ["", "12", "555-0123"]
    for _ in range(400):
        text = "".join(rng.choice(alphabet, size=int(rng.integers(0, 90))))
        try:
            digits = parse_digits(text)
        except ValueError as e:
            assert "\n" not in str(e) and "\x1b" not in str(e), str(e)
            continue
        assert digits.isdigit() and set(digits) <= set("0123456789") and len(digits) <= 64
