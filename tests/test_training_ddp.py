"""Distributed training on small data, as two CPU processes on one machine.

Both launch paths of docs/training.md run here for real (gloo backend, localhost):
- one node, ``--devices 2``: Lightning starts the second process itself;
- two "nodes" of one process each (``--num-nodes 2``, ``MASTER_ADDR``/``MASTER_PORT``/``NODE_RANK``
  set per node): the multi-node path, with both nodes on this machine.
Each test runs ``python -m training fit`` in subprocesses (Lightning re-executes the command for
its child processes, which must not be pytest).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import soundfile as sf
from test_training import tone

from vaesynth.model.bundle import load_bundle

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 300


def small_fsdd(folder: Path) -> Path:
    """100 recordings: one speaker, 10 takes of each digit (50 train, 50 test) - the size that crashed."""
    folder.mkdir(parents=True)
    for d in range(10):
        for i in range(10):
            sf.write(folder / f"{d}_ann_{i}.wav", tone(150 + 40 * d + 5 * i), 8000, subtype="PCM_16")
    return folder


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env_for(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MASTER_", "NODE_RANK", "LOCAL_RANK", "RANK", "WORLD_SIZE", "TORCHELASTIC"))
    }
    env.update(XDG_CACHE_HOME=str(tmp_path / "cache"), PYTHONPATH=str(ROOT), **extra)
    env.pop("VAESYNTH_FSDD", None)
    return env


def fit_cmd(data: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "training", "fit", "--model", "mlp", "--epochs", "1", "--accelerator", "cpu",
            "--data", str(data), "--out", str(out), "--no-progress", *extra]  # fmt: skip


def check_bundle(out: Path, processes: int) -> None:
    b = load_bundle(out)
    assert b.meta["training"]["processes"] == processes
    assert b.meta["training"]["n_train"] == 50
    assert b.meta["training"]["epochs"] == 1


def test_two_process_ddp_fit_on_small_data(tmp_path):
    """`fit --devices 2` on 100 wavs used to fail on both ranks ("Expected positive integer total_steps, but got
    0": 25 recordings per process, batches of 32, drop_last). Now every process gets a full batch."""
    data = small_fsdd(tmp_path / "rec")
    out = tmp_path / "bundle"
    proc = subprocess.run(
        fit_cmd(data, out, "--devices", "2"), cwd=ROOT, env=env_for(tmp_path), capture_output=True, text=True,
        timeout=TIMEOUT,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "GLOBAL_RANK: 1, MEMBER: 2/2" in proc.stderr + proc.stdout
    assert proc.stdout.count("wrote bundle") == 1  # rank 0 writes, rank 1 does not claim to
    check_bundle(out, processes=2)


def test_two_node_launch_on_one_machine(tmp_path):
    """The multi-node path of docs/training.md: `--num-nodes 2 --devices 1` on each "node", with
    MASTER_ADDR, MASTER_PORT and NODE_RANK set; both nodes here, talking over localhost."""
    data = small_fsdd(tmp_path / "rec")
    out = tmp_path / "bundle"
    port = str(free_port())
    procs = [
        subprocess.Popen(
            fit_cmd(data, out, "--devices", "1", "--num-nodes", "2"),
            cwd=ROOT,
            text=True,
            env=env_for(tmp_path, MASTER_ADDR="127.0.0.1", MASTER_PORT=port, NODE_RANK=str(rank)),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        for rank in (0, 1)
    ]
    try:
        logs = [p.communicate(timeout=TIMEOUT)[0] for p in procs]
    finally:
        for p in procs:
            p.kill()
    assert [p.returncode for p in procs] == [0, 0], logs[0][-2000:] + logs[1][-2000:]
    assert "GLOBAL_RANK: 0, MEMBER: 1/2" in logs[0] and "GLOBAL_RANK: 1, MEMBER: 2/2" in logs[1]
    assert "wrote bundle" in logs[0] and "wrote bundle" not in logs[1]
    check_bundle(out, processes=2)
