"""Data-parallel training under torchrun on CPU (gloo over loopback): equivalence with one
process, a rank killed mid-run, and checkpoints that change the number of ranks."""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import ddp_worker as worker
import seqlab.lm
from _torchrun import torchrun as launch
from seqlab.training import distributed
from seqlab.training.trainer import fit

HERE = Path(__file__).resolve().parent


def torchrun(*args: str, nproc: int = 2, env: dict[str, str] | None = None):
    """Run ``tests/ddp_worker.py ARGS`` under torchrun on loopback; return the process."""
    return launch(HERE / "ddp_worker.py", *args, nproc=nproc, env=env)


def weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(str(folder / "model.safetensors"))


def assert_same_weights(a: Path, b: Path) -> None:
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    for key in wa:
        torch.testing.assert_close(wa[key], wb[key], rtol=1e-4, atol=1e-5, msg=key)


@pytest.fixture(scope="module")
def two_rank_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One torchrun job of 2 ranks: the seeded classifier, streamed classifier and LM runs."""
    out = tmp_path_factory.mktemp("ddp2")
    tsv = worker.write_tsv(out / "toy.tsv")
    proc = torchrun("train", str(out), str(tsv))
    assert proc.returncode == 0, proc.stderr[-4000:]
    return out


@pytest.mark.slow
def test_distributed_two_ranks_match_one_process(two_rank_runs: Path, tmp_path: Path) -> None:
    single = tmp_path / "single"
    worker.train_both(single)
    worker.train_stream(single, two_rank_runs / "toy.tsv")
    # A global batch of 8 on 2 ranks (4 rows each; the last batch of 3 rows splits 2 + 1)
    # gives the weights of one process with batches of 8.
    for part in ("clf", "lm", "gpt", "stream"):
        assert_same_weights(two_rank_runs / part, single / part)
    init, _, _ = worker.classifier_parts()
    trained = weights(single / "clf")
    moved = max(float((trained[k] - v.detach()).abs().max()) for k, v in init.state_dict().items())
    assert moved > 1e-2  # the runs really trained: equality is not of untouched weights
    # metrics are summed over the ranks, so the histories agree too
    h2 = json.loads((two_rank_runs / "clf" / "history.json").read_text())
    h1 = json.loads((single / "clf" / "history.json").read_text())
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert h2[key] == pytest.approx(h1[key], rel=1e-5)
    config = json.loads((two_rank_runs / "clf" / "config.json").read_text())
    assert config["train"]["world_size"] == 2
    lm2 = json.loads((two_rank_runs / "lm" / "history.json").read_text())
    lm1 = json.loads((single / "lm" / "history.json").read_text())
    assert lm2["tokens"] == lm1["tokens"]
    assert lm2["loss"][-1] == pytest.approx(lm1["loss"][-1], rel=1e-5)
    gpt2 = json.loads((two_rank_runs / "gpt" / "history.json").read_text())
    gpt1 = json.loads((single / "gpt" / "history.json").read_text())
    assert gpt2["loss"][-1] == pytest.approx(gpt1["loss"][-1], rel=1e-5)


@pytest.mark.slow
def test_distributed_checkpoint_of_two_ranks_resumes_on_one(
    two_rank_runs: Path, tmp_path: Path
) -> None:
    resumed = tmp_path / "resumed"
    for part in ("clf", "lm", "gpt"):
        shutil.copytree(two_rank_runs / part, resumed / part)
    # continue both runs in this (plain, one-process) interpreter ...
    worker.train_both(resumed, epochs=2, steps=6, resume=True)
    # ... and compare with uninterrupted one-process runs of the same length
    straight = tmp_path / "straight"
    worker.train_both(straight, epochs=2, steps=6)
    for part in ("clf", "lm", "gpt"):
        assert_same_weights(resumed / part, straight / part)
    history = json.loads((resumed / "clf" / "history.json").read_text())
    assert history["epoch"] == [1, 2]


@pytest.mark.slow
def test_distributed_killed_rank_fails_cleanly_then_resumes(tmp_path: Path) -> None:
    tsv = worker.write_tsv(tmp_path / "toy.tsv")
    out = tmp_path / "run"
    command = [
        "cli",
        "classify",
        "train",
        "--data",
        str(tsv),
        "--model",
        "lstm",
        "--embedding-dim",
        "8",
        "--hidden-size",
        "8",
        "--epochs",
        "3",
        "--batch-size",
        "8",
        "--lr",
        "0.05",
        "--device",
        "cpu",
        "--quiet",
        "--out",
        str(out),
    ]
    # 37 training rows in global batches of 8: 5 steps an epoch; rank 1 dies at step 7
    failed = torchrun(*command, env={"KILL_RANK_AT_STEP": "1:7"})
    assert failed.returncode != 0
    state = json.loads((out / "checkpoint" / "state.json").read_text())
    assert state["epoch"] == 1 and state["step"] == 5
    # no half-written run: the final files are absent, and no temporary file was left over
    for name in ("config.json", "model.safetensors", "metrics.json"):
        assert not (out / name).exists()
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]
    assert [row["epoch"] for row in state["history"]] == [1]  # the history so far

    done = torchrun(*command, "--resume")
    assert done.returncode == 0, done.stderr[-4000:]
    history = json.loads((out / "history.json").read_text())
    assert history["epoch"] == [1, 2, 3]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs_run"] == 3
    assert done.stdout.count("run folder:") == 1  # only rank 0 prints the summary


def test_distributed_plain_run_is_a_world_of_one() -> None:
    assert not distributed.is_distributed()
    assert distributed.world_size() == 1 and distributed.is_main()
    with distributed.session("cpu") as device:
        assert device == torch.device("cpu")
        assert not torch.distributed.is_initialized()
    rows, w = distributed.shard_rows(np.array([4, 5, 6]))
    assert rows.tolist() == [4, 5, 6] and w.tolist() == [1.0, 1.0, 1.0]
    assert distributed.all_reduce_sum([1.0, 2.0]).tolist() == [1.0, 2.0]
    assert distributed.broadcast_bytes(b"xyz") == b"xyz"


def test_distributed_collective_holds_its_tensors_until_gloo_lets_go() -> None:
    # gloo's worker thread drops its reference to a finished collective's tensors a moment
    # after the call returns; freeing a tensor's Python object before then made that thread
    # need the GIL at interpreter exit (SIGABRT in 1 two-rank job of ~20 on a busy machine).
    t = torch.zeros(3)
    held = [t.view(3)]  # another owner, as gloo's work is

    def let_go() -> None:
        time.sleep(0.05)
        held.clear()

    thread = threading.Thread(target=let_go)
    thread.start()
    assert distributed._released([t], [1])
    assert t._use_count() == 1  # it returned only once the other owner had let go
    thread.join()
    # a reference that is never dropped ends the wait after the limit, by the injected clock
    ticks = iter(range(100))
    stuck = t.view(3)
    assert not distributed._released([t], [1], clock=lambda: next(ticks), limit_s=5)
    assert next(ticks) == 7 and stuck is not None


def test_distributed_gloo_collective_waits_for_the_counts_before_it(monkeypatch) -> None:
    # A real gloo group of one rank: after the block gloo holds none of the tensors, and the
    # wait is for each tensor's count before the collective (another owner is not gloo's).
    waited = []
    real = distributed._released
    monkeypatch.setattr(
        distributed, "_released", lambda ts, counts: waited.append(list(counts)) or real(ts, counts)
    )
    torch.distributed.init_process_group(
        "gloo", rank=0, world_size=1, store=torch.distributed.HashStore()
    )
    try:
        t = torch.ones(3)
        other_owner = t.view(3)
        with distributed._held(t):
            torch.distributed.all_reduce(t)
        assert waited == [[2]] and t._use_count() == 2 and other_owner is not None
        assert t.tolist() == [1.0, 1.0, 1.0]
    finally:
        torch.distributed.destroy_process_group()


def test_distributed_shards_cover_the_batch_with_zero_weight_padding(monkeypatch) -> None:
    rows = np.array([10, 11, 12, 13, 14])
    got = []
    for r in range(3):
        monkeypatch.setattr(distributed, "world_size", lambda: 3)
        monkeypatch.setattr(distributed, "is_distributed", lambda: True)
        monkeypatch.setattr(distributed, "rank", lambda r=r: r)
        got.append(distributed.shard_rows(rows))
    assert [g[0].tolist() for g in got] == [[10, 13], [11, 14], [12, 10]]
    assert [g[1].tolist() for g in got] == [[1, 1], [1, 1], [1, 0]]
    real = sorted(int(x) for g in got for x, wt in zip(*g) if wt > 0)
    assert real == rows.tolist()


def test_distributed_batch_size_must_split_over_the_ranks(monkeypatch) -> None:
    monkeypatch.setattr(distributed, "world_size", lambda: 4)
    with pytest.raises(ValueError, match=r"batch_size=30 is the global batch .* 4 ranks"):
        distributed.check_batch_size(30)
    distributed.check_batch_size(32)
    model, vec, ds = worker.classifier_parts()
    with pytest.raises(ValueError, match="multiple of 4"):
        fit(model, vec, ds, epochs=1, batch_size=6, progress=False)


def test_distributed_torchrun_device_is_the_local_gpu(monkeypatch) -> None:
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert distributed.launched_by_torchrun()
    assert distributed.local_device("cuda") == torch.device("cuda", 1)
    assert distributed.local_device("auto") == torch.device("cuda", 1)
    assert distributed.local_device("cuda:0") == torch.device("cuda", 0)
    assert distributed.local_device("cpu") == torch.device("cpu")
    assert not distributed.is_main()


def test_distributed_lm_resume_needs_a_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no checkpoint to resume from"):
        seqlab.lm.train(text=worker.lm_text(), steps=2, out=tmp_path / "none", resume=True)
