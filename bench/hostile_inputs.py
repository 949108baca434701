"""Severe hostile-input reproductions under a memory limit: one line, exit 2, nothing on disk changed.

    python bench/hostile_inputs.py                  # the table (markdown) on stdout
    python bench/hostile_inputs.py --json out.json  # also every outcome as JSON
    python bench/hostile_inputs.py --root OTHER     # run another source tree's code (a before/after table)

Each case builds its inputs in a fresh scratch folder (HOME, XDG_CONFIG_HOME, XDG_CACHE_HOME and the
voices folder point into it), snapshots that folder, runs the command in a child process under a
1 GB address-space limit (``RLIMIT_AS``, set in the child before ``exec``) and a 20 s timeout, and
checks:

- the exit status (2 for the command line; 0 for the app, which logs instead),
- stderr: exactly one line, no traceback (the notice Qt's offscreen platform prints for every
  window is not counted),
- the scratch folder afterwards: every entry of the same kind, every regular file the same bytes,
  every device node still a device node.

Reads from the system's ``/dev/zero`` and ``/dev/urandom`` are used as *read sources* (through
links); nothing is ever written to a system device: the write cases use device nodes made in the
scratch folder (``mknod``, needs root; skipped otherwise). Peak memory is the child's ``ru_maxrss``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
LIMIT_BYTES = 1 << 30
TIMEOUT_S = 20.0
NOISE = ("This plugin does not support propagateSizeHints()",)  # Qt's offscreen platform, on every window


@dataclass
class Outcome:
    case: str
    code: int | None  # None: killed at the timeout
    lines: list[str]
    seconds: float
    peak_mb: float
    unchanged: bool
    expect_code: int

    @property
    def ok(self) -> bool:
        return self.code == self.expect_code and len(self.lines) == 1 and self.unchanged and not any(
            "Traceback" in line for line in self.lines
        )


def snapshot(folder: Path) -> dict:
    out = {}
    for p in sorted(folder.rglob("*")):
        st = os.lstat(p)
        kind = stat.S_IFMT(st.st_mode)
        data = None
        if stat.S_ISREG(st.st_mode) and st.st_size < (64 << 20):
            data = p.read_bytes()
        out[str(p.relative_to(folder))] = (kind, os.readlink(p) if p.is_symlink() else None, data, st.st_rdev)
    return out


def run_limited(argv: list[str], env: dict, cwd: Path, root: Path) -> tuple[int | None, str, float, float]:
    """``argv`` in a child under 1 GB of address space and the timeout: (status, stderr, seconds, peak MB)."""
    err_path = cwd.parent / f"stderr-{os.getpid()}.txt"

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (LIMIT_BYTES, LIMIT_BYTES))

    t0 = time.perf_counter()
    with open(err_path, "wb") as err:
        proc = subprocess.Popen(
            argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=err, preexec_fn=limit,
            env={**env, "PYTHONPATH": str(root)},
        )  # fmt: skip
    code: int | None = None
    usage = None
    while time.perf_counter() - t0 < TIMEOUT_S:
        done, status, usage = os.wait4(proc.pid, os.WNOHANG)  # wait4: the child's own peak memory
        if done:
            code = os.waitstatus_to_exitcode(status)
            break
        time.sleep(0.02)
    else:
        proc.kill()
        _, _, usage = os.wait4(proc.pid, 0)
    proc.returncode = -9 if code is None else code  # reaped here: Popen must not wait for it again
    seconds = time.perf_counter() - t0
    stderr = err_path.read_text(errors="replace")
    err_path.unlink()
    return code, stderr, seconds, (usage.ru_maxrss / 1024 if usage else float("nan"))


# --- the cases ------------------------------------------------------------------------------------


def one_hz_wav(path: Path, n: int) -> None:
    sf.write(path, (0.5 * np.sin(np.arange(n) * 0.3)).astype(np.float32), 1, subtype="PCM_16")


def fake_zero(folder: Path, name: str = "fake") -> Path:
    p = folder / name
    os.mknod(p, stat.S_IFCHR | 0o666, os.makedev(1, 5))
    return p


APP_CLOSE = textwrap.dedent(
    """
    import os, sys
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication
    from vaesynth.app.main_window import MainWindow
    from vaesynth.app.settings import default_settings
    app = QApplication(sys.argv[:1])
    w = MainWindow(default_settings(), model="mlp")
    w.show(); app.processEvents(); w.close(); w.shutdown()
    """
)


def cases(py: str, bundles: dict[str, Path]) -> list[tuple[str, int, Callable[[Path], list[str]]]]:
    """(name, expected exit status, set-up in the scratch folder -> argv)."""
    cli = [py, "-m", "vaesynth"]
    train = [py, "-m", "training"]

    def s0_settings_link_to_device(d: Path) -> list[str]:
        conf = d / "config" / "vaesynth" / "vaesynth.conf"
        conf.parent.mkdir(parents=True)
        conf.symlink_to(fake_zero(d))
        return [py, "-c", APP_CLOSE]

    def s1(link_to: str, option: str) -> Callable[[Path], list[str]]:
        def setup(d: Path) -> list[str]:
            name = "r.json" if option == "--recipe" else "v.json"
            (d / name).symlink_to(link_to)
            return [*cli, "say", *(["12"] if option != "--recipe" else []), option, name, "-o", "x.wav"]

        return setup

    def s1_voice_in_folder(d: Path) -> list[str]:
        (d / "voices").mkdir()
        (d / "voices" / "z.json").symlink_to("/dev/zero")
        return [*cli, "say", "12", "--voice", "z", "-o", "x.wav"]

    def s2_fifo(option: str, name: str) -> Callable[[Path], list[str]]:
        def setup(d: Path) -> list[str]:
            os.mkfifo(d / name)
            return [*cli, "say", *(["12"] if option != "--recipe" else []), option, name, "-o", "x.wav"]

        return setup

    def s2_fifo_in_voices(d: Path) -> list[str]:
        (d / "voices").mkdir()
        os.mkfifo(d / "voices" / "p.json")
        return [*cli, "say", "12", "--voice", "p", "-o", "x.wav"]

    def s2_settings_fifo(d: Path) -> list[str]:
        conf = d / "config" / "vaesynth" / "vaesynth.conf"
        conf.parent.mkdir(parents=True)
        os.mkfifo(conf)
        return [py, "-c", APP_CLOSE]

    def s2_s4_data(kind: str) -> Callable[[Path], list[str]]:
        def setup(d: Path) -> list[str]:
            (d / "data").mkdir()
            target = d / "data" / "9_theo_6.wav"
            if kind == "fifo":
                os.mkfifo(target)
            elif kind == "zero":
                target.symlink_to("/dev/zero")
            else:
                one_hz_wav(target, 50_000)
            return [*train, "fit", "--model", "mlp", "--epochs", "1", "--data", "data", "--out", "b", "--no-progress"]

        return setup

    def s3(n: int) -> Callable[[Path], list[str]]:
        def setup(d: Path) -> list[str]:
            one_hz_wav(d / "t.wav", n)
            return [*cli, "say", "5", "--voice-from", "t.wav", "-o", "x.wav"]

        return setup

    def s3_flac(d: Path) -> list[str]:
        sf.write(d / "t.wav", np.zeros((192000 * 10, 8), np.int16), 192000, subtype="PCM_16", format="FLAC")
        return [*cli, "say", "5", "--voice-from", "t.wav", "-o", "x.wav"]

    def s5(d: Path) -> list[str]:
        (d / "one").mkdir()
        sf.write(d / "one" / "3_ann_7.wav", (0.5 * np.sin(np.arange(4000) * 0.2)).astype(np.float32), 8000)
        shutil.copytree(bundles["cvae"], d / "bundle")
        return [*train, "fit", "--model", "cvae", "--epochs", "1", "--data", "one", "--out", "bundle",
                "--runs-dir", "runs", "--no-progress"]  # fmt: skip

    def s6(how: str) -> Callable[[Path], list[str]]:
        def setup(d: Path) -> list[str]:
            shutil.copytree(bundles["costly"], d / "costly")
            if how == "model":
                return [*cli, "say", "1", "--model", "costly", "-o", "x.wav"]
            from vaesynth.voices.keep import RenderRecipe, weights_fingerprint

            recipe = RenderRecipe("1", str(d / "costly"), weights_fingerprint(d / "costly"), seed=1)
            (d / "r.json").write_text(recipe.to_json())
            return [*cli, "say", "--recipe", "r.json", "-o", "x.wav"]

        return setup

    out = [
        ("S0 settings linked to a device node, app closed", 0, s0_settings_link_to_device),
        ("S1 --voice-file -> /dev/zero", 2, s1("/dev/zero", "--voice-file")),
        ("S1 --voice-file -> /dev/urandom", 2, s1("/dev/urandom", "--voice-file")),
        ("S1 --recipe r.json -> /dev/zero", 2, s1("/dev/zero", "--recipe")),
        ("S1 voices folder: z.json -> /dev/zero, --voice z", 2, s1_voice_in_folder),
        ("S2 --voice-file FIFO", 2, s2_fifo("--voice-file", "v.json")),
        ("S2 --recipe FIFO .json", 2, s2_fifo("--recipe", "r.json")),
        ("S2 --recipe FIFO .wav", 2, s2_fifo("--recipe", "r.wav")),
        ("S2 voices folder: p.json a FIFO, --voice p", 2, s2_fifo_in_voices),
        ("S2 settings file a FIFO, app opened and closed", 0, s2_settings_fifo),
        ("S2 fit --data: 9_theo_6.wav a FIFO", 2, s2_s4_data("fifo")),
        ("S3 --voice-from: 100 KB WAV saying 1 Hz", 2, s3(50_000)),
        ("S3 --voice-from: 9 KB WAV saying 1 Hz", 2, s3(4_500)),
        ("S3 --voice-from: 8-channel 192 kHz FLAC named .wav", 2, s3_flac),
        ("S4 fit --data: 9_theo_6.wav -> /dev/zero", 2, s2_s4_data("zero")),
        ("S4 fit --data: 9_theo_6.wav saying 1 Hz", 2, s2_s4_data("1hz")),
        ("S5 fit on one file --out an existing bundle", 2, s5),
        ("S6 say --model (n_fft 4096, hop 1, 4096 frames)", 2, s6("model")),
        ("S6 say --recipe pointing at that bundle", 2, s6("recipe")),
    ]
    if os.geteuid() != 0:
        out = [c for c in out if not c[0].startswith("S0")]
    return out


def costly_bundle(tmp: Path) -> Path:
    """The probe's expensive bundle: a consistent cnn (4 channels, 25.6 M weights, 51 MB) with n_fft 4096,
    hop 1 and 4096 frames. Built here with the cost check switched off (the code refuses to build it)."""
    import vaesynth.model.models as models
    from training.bundling import untrained_bundle
    from vaesynth.dsp.spectral import SpectralConfig

    check, models.check_cost = getattr(models, "check_cost", None), lambda *a: None
    try:
        spectral = SpectralConfig(n_fft=4096, hop=1, max_frames=4096)
        return untrained_bundle("cnn", tmp / "bundles" / "costly", params={"channels": 4}, spectral=spectral)
    finally:
        if check is not None:
            models.check_cost = check


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default=str(ROOT), help="source tree whose code runs (default: this one)")
    ap.add_argument("--json", help="also write every outcome here")
    ap.add_argument("-k", default="", help="run only cases whose name contains this")
    args = ap.parse_args(argv)
    root = Path(args.root).resolve()
    py = sys.executable
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="vaesynth-hostile-") as tmp:
        from training.bundling import untrained_bundle

        bundles = {"cvae": untrained_bundle("cvae", Path(tmp) / "bundles" / "cvae"), "costly": costly_bundle(Path(tmp))}
        for i, (name, expect, setup) in enumerate(cases(py, bundles)):
            if args.k not in name:
                continue
            scratch = Path(tmp) / f"case{i:02d}" / "d"
            scratch.mkdir(parents=True)
            env = {
                "PATH": os.environ.get("PATH", ""), "HOME": str(scratch), "XDG_CONFIG_HOME": str(scratch / "config"),
                "XDG_CACHE_HOME": str(scratch / "cache"), "VAESYNTH_VOICES": str(scratch / "voices"),
                "QT_QPA_PLATFORM": "offscreen", "VAESYNTH_FSDD": str(scratch / "nodata"),
                # glibc's per-thread malloc arenas reserve 64 MB of address space each: a few are enough
                "MALLOC_ARENA_MAX": "2", "OMP_NUM_THREADS": "1",
            }  # fmt: skip
            argv_ = setup(scratch)
            before = snapshot(scratch)
            code, stderr, seconds, peak = run_limited(argv_, env, scratch, root)
            after = snapshot(scratch)
            # what was there must be as it was; new entries only from the libraries' own folders and the
            # run's own cache and logs (PulseAudio's cookie, matplotlib's font cache, Lightning's CSV logs)
            ignorable = ("cache", "runs", "config/pulse", "config/matplotlib", "config")
            changed = [k for k in before if before[k] != after.get(k)]
            changed += [k for k in after if k not in before and not k.startswith(ignorable)]
            lines = [line for line in stderr.splitlines() if line.strip() and not any(n in line for n in NOISE)]
            o = Outcome(name, code, lines, seconds, peak, not changed, expect)
            outcomes.append(o)
            status = "ok " if o.ok else "BAD"
            print(f"{status} {name}: exit {code}, {len(lines)} line(s), {seconds:.1f} s, {peak:.0f} MB"
                  + ("" if o.unchanged else f", changed: {changed[:3]}"), file=sys.stderr, flush=True)  # fmt: skip
    print("| case | exit (expected) | stderr | time | peak memory | disk unchanged |")
    print("|---|---|---|---|---|---|")
    for o in outcomes:
        first = (o.lines[0] if o.lines else "").replace("|", "\\|")
        first = first if len(first) <= 110 else first[:107] + "..."
        shown = "killed at 20 s" if o.code is None else str(o.code)
        n = f"{len(o.lines)} lines: " if len(o.lines) != 1 else ""
        print(f"| {o.case} | {shown} ({o.expect_code}) | {n}`{first}` | {o.seconds:.1f} s | {o.peak_mb:.0f} MB | "
              f"{'yes' if o.unchanged else 'NO'} |")  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps([o.__dict__ | {"ok": o.ok} for o in outcomes], indent=1) + "\n")
    return 0 if all(o.ok for o in outcomes) else 1


if __name__ == "__main__":
    raise SystemExit(main())
