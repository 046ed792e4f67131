"""Language-model training: run folders, budgets, schedules, recipes, checkpoints, resume."""

from __future__ import annotations

import json
import math

import pytest
import torch

import seqlab.lm
from seqlab.lm.train import make_config
from seqlab.training.optim import lr_at

TEXT = (
    "It is the will to truth which has tempted us to many a hazardous enterprise; the famous "
    "truthfulness of which all philosophers have hitherto spoken with respect. "
) * 8

TINY = dict(hidden_size=24, num_layers=2, embedding_dim=8, batch_size=4, seq_len=16,
            eval_tokens=300, progress=False, device="cpu")  # fmt: skip


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture()
def corpus_file(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


def test_lm_train_writes_the_run_folder(corpus_file, tmp_path):
    out = tmp_path / "run"
    lm = seqlab.lm.train(corpus_file, steps=12, eval_every=4, out=out, **TINY)
    names = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    assert names == [
        "checkpoint", "config.json", "curves.png", "history.json", "metrics.json",
        "model.safetensors", "vocab.json",
    ]  # fmt: skip
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    config = json.loads((out / "config.json").read_text())
    assert config["task"] == "lm" and config["model"]["name"] == "lm-lstm"
    assert config["train"]["corpus"] == str(corpus_file.resolve())
    history = json.loads((out / "history.json").read_text())
    assert history["step"] == [0, 4, 8, 12]  # Keras-style, as for every task
    assert history["loss"][0] is None and all(v > 0 for v in history["loss"][1:])
    assert all(v > 0 for v in history["val_loss"])
    assert history["val_loss"][0] == pytest.approx(math.log(len(lm.vocab)), rel=0.1)
    assert [row["step"] for row in seqlab.lm.load(out).history] == [0, 4, 8, 12]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["steps"] == 12 and metrics["val"]["bits_per_char"] > 0
    # `evaluate` re-reads the corpus and scores the same held-out 10 %.
    again = seqlab.lm.evaluate(out)
    assert again["loss"] == pytest.approx(metrics["val"]["loss"], rel=1e-5)
    assert again["tokens"] == metrics["val"]["tokens"]


def test_lm_train_vocabulary_is_stored(corpus_file, tmp_path):
    seqlab.lm.train(corpus_file, steps=1, out=tmp_path / "r", lower=True, **TINY)
    vocab = json.loads((tmp_path / "r" / "vocab.json").read_text())
    assert vocab["level"] == "char" and vocab["lower"] is True
    assert vocab["itos"] == sorted(set(TEXT.lower()))


def test_lm_budget_is_required_and_settings_are_checked():
    with pytest.raises(ValueError, match="epochs=, steps= or minutes="):
        seqlab.lm.train(text=TEXT, **TINY)
    with pytest.raises(TypeError, match="hiden_size"):
        seqlab.lm.train(text=TEXT, steps=1, hiden_size=3)
    with pytest.raises(ValueError, match="recipe"):
        seqlab.lm.train(text=TEXT, steps=1, recipe="keras")
    with pytest.raises(ValueError, match="schedule"):
        seqlab.lm.train(text=TEXT, steps=1, schedule="linear")
    with pytest.raises(ValueError, match="batch_size"):
        seqlab.lm.train(text="short text", steps=1, batch_size=8, val_split=0.0)


class FakeClock:
    """A clock that advances `tick` seconds every time it is read: budgets in time are then
    tested without depending on the machine's speed."""

    def __init__(self, tick: float) -> None:
        self.now, self.tick = 0.0, tick

    def __call__(self) -> float:
        self.now += self.tick
        return self.now


def test_lm_epochs_and_minutes_budgets(corpus_file):
    lm = seqlab.lm.train(corpus_file, epochs=1, **TINY)
    assert lm.metrics["epochs"] == pytest.approx(1.0)
    # The step's time is two reads of the clock apart: 0.5 s a step, so 3 s buy 6 steps.
    lm = seqlab.lm.train(corpus_file, minutes=3 / 60, clock=FakeClock(0.5), **TINY)
    assert lm.metrics["steps"] == 6 and lm.metrics["train_time_s"] == pytest.approx(3.0)
    assert lm.metrics["stopped"] == "minutes"


def test_lm_recipes():
    lecture = make_config("lecture")
    assert (lecture.maxlen, lecture.step, lecture.hidden_size, lecture.batch_size) == (
        40,
        3,
        128,
        128,
    )
    assert (lecture.optimizer, lecture.lr, lecture.input_encoding) == ("rmsprop", 0.01, "one_hot")
    assert lecture.lower and lecture.schedule == "constant" and lecture.clip_grad_norm is None
    default = make_config("default")
    assert default.optimizer == "adam" and default.schedule == "cosine"
    assert make_config("default", "word").tie_weights


def test_lm_learning_rate_schedules():
    def lrs(schedule, **kw):
        return [lr_at(f, 1.0, schedule, **kw) for f in (0.0, 0.01, 0.02, 0.5, 0.6, 0.8, 1.0)]

    cosine = lrs(schedule="cosine", warmup=0.02, min_lr=0.1)
    assert cosine[0] < cosine[1] < cosine[2] == pytest.approx(1.0)  # linear warm-up
    assert cosine[2] > cosine[3] > cosine[4] > cosine[5] > cosine[6] == pytest.approx(0.1)
    assert lrs(schedule="step") == pytest.approx([1, 1, 1, 0.1, 0.1, 0.01, 0.01])
    assert lrs(schedule="constant") == [1.0] * 7


def test_lm_lecture_recipe_trains_on_windows(corpus_file):
    lm = seqlab.lm.train(
        corpus_file, recipe="lecture", steps=5, maxlen=20, hidden_size=16, batch_size=16,
        eval_tokens=200, progress=False, device="cpu",
    )  # fmt: skip
    assert lm.recipe == "lecture" and lm.model.config["input_encoding"] == "one_hot"
    assert lm.metrics["val"]["mode"] == "window"
    assert lm.metrics["tokens"] == 5 * 16  # one target per window
    assert lm.evaluate(TEXT[:300])["mode"] == "window"
    assert len(lm.generate("the will", 30, loop="window", seed=0)) == 30


@pytest.mark.parametrize("recipe", ["default", "lecture"])
def test_lm_resume_continues_exactly(corpus_file, tmp_path, recipe):
    # Dropout > 0 and an epoch boundary within the run: the resumed run must replay the same
    # batches and random numbers. The constant schedule keeps the learning rate independent of
    # the budget, which differs between the two legs.
    kw = dict(TINY, recipe=recipe, dropout=0.2, schedule="constant", maxlen=20, step=7,
              batch_size=16, seed=3)  # fmt: skip
    straight = seqlab.lm.train(corpus_file, steps=14, out=tmp_path / "a", **kw)
    first = seqlab.lm.train(corpus_file, steps=6, out=tmp_path / "b", **kw)
    assert first.metrics["steps"] == 6
    resumed = seqlab.lm.train(corpus_file, steps=14, out=tmp_path / "b", resume=True,
                              progress=False, device="cpu")  # fmt: skip
    assert straight.metrics["epochs"] > 1  # the run crossed an epoch boundary
    assert resumed.metrics["steps"] == 14
    for (name, a), (_, b) in zip(
        straight.model.state_dict().items(), resumed.model.state_dict().items()
    ):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)
    assert resumed.metrics["val"]["loss"] == straight.metrics["val"]["loss"]
    state = json.loads((tmp_path / "b" / "checkpoint" / "state.json").read_text())
    assert state["step"] == 14


def test_lm_interrupted_run_resumes_exactly(corpus_file, tmp_path, monkeypatch):
    # Ctrl-C in the middle of a step (after dropout has drawn its random numbers) writes a
    # checkpoint of the last completed step; resuming replays the interrupted step exactly.
    from seqlab.models import registry

    kw = dict(TINY, dropout=0.3, schedule="constant", batch_size=16, seed=5)
    straight = seqlab.lm.train(corpus_file, steps=8, **kw)
    real_build = registry.build

    def build(name, **config):
        model = real_build(name, **config)
        calls = {"n": 0}

        def interrupt(module, args, output):
            calls["n"] += module.training
            if calls["n"] == 5:
                raise KeyboardInterrupt

        model.register_forward_hook(interrupt)
        return model

    monkeypatch.setattr(registry, "build", build)
    with pytest.raises(KeyboardInterrupt):
        seqlab.lm.train(corpus_file, steps=8, out=tmp_path / "r", **kw)
    monkeypatch.undo()
    state = json.loads((tmp_path / "r" / "checkpoint" / "state.json").read_text())
    assert state["step"] == 4
    resumed = seqlab.lm.train(corpus_file, steps=8, out=tmp_path / "r", resume=True,
                              progress=False, device="cpu")  # fmt: skip
    for a, b in zip(straight.model.parameters(), resumed.model.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_lm_resume_refuses_changed_settings(corpus_file, tmp_path):
    seqlab.lm.train(corpus_file, steps=2, out=tmp_path / "r", **TINY)
    with pytest.raises(ValueError, match="hidden_size"):
        seqlab.lm.train(corpus_file, steps=4, out=tmp_path / "r", resume=True, hidden_size=99)
    other = tmp_path / "other.txt"
    other.write_text(TEXT.upper())
    with pytest.raises(ValueError, match="corpus differs"):
        seqlab.lm.train(other, steps=4, out=tmp_path / "r", resume=True)
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        seqlab.lm.train(corpus_file, steps=4, out=tmp_path / "none", resume=True)


def test_lm_gru_and_word_level_train(corpus_file):
    lm = seqlab.lm.train(corpus_file, level="word", model="gru", steps=3, max_tokens=30,
                         embedding_dim=24, **{k: v for k, v in TINY.items() if k != "embedding_dim"})  # fmt: skip
    assert lm.model.registry_name == "lm-gru" and len(lm.vocab) <= 30
    assert "perplexity" in lm.metrics["val"] and "bits_per_char" not in lm.metrics["val"]


def test_lm_corpus_prompt_is_a_window_of_the_corpus(corpus_file):
    lm = seqlab.lm.train(corpus_file, steps=1, **TINY)
    prompt = seqlab.lm.corpus_prompt(lm, seed=0)
    assert len(prompt) == lm.maxlen and prompt in TEXT
    assert seqlab.lm.corpus_prompt(lm, seed=0) == prompt


def test_lm_bundled_corpus_is_read():
    text = seqlab.lm.load_corpus("nietzsche")
    assert len(text) == 600_901 and text.startswith("PREFACE")


@pytest.mark.slow  # reads and scores the whole bundled Nietzsche: ~10 s on a busy machine
def test_lm_demo_step_prints_one_sample_per_temperature(tmp_path):
    lines: list[str] = []
    lm = seqlab.lm.demo_step(tmp_path / "demo", seconds=0.5, echo=lines.append, length=30)
    headers = [line for line in lines if line.startswith("----- temperature")]
    assert headers == [f"----- temperature {t}" for t in (0.2, 0.5, 1.0, 1.2)]
    assert all(lines[lines.index(h) + 1].startswith("the will to truth") for h in headers)
    assert lm.train_config["lower"] and (tmp_path / "demo" / "model.safetensors").is_file()


def test_lm_old_setting_names_warn_and_map(corpus_file, tmp_path):
    # one name per concept across seqlab: clip_grad_norm, val_split, checkpoint_every
    with pytest.warns(DeprecationWarning) as caught:
        cfg = make_config("default", steps=1, clip=0.5, val_fraction=0.2)
    assert sorted(str(w.message).split(";")[0] for w in caught) == [
        "the LM setting 'clip' is now called 'clip_grad_norm'",
        "the LM setting 'val_fraction' is now called 'val_split'",
    ]
    assert cfg.clip_grad_norm == 0.5 and cfg.val_split == 0.2
    with pytest.raises(TypeError, match="pass only clip_grad_norm"):
        make_config(steps=1, clip=0.5, clip_grad_norm=0.3)
    # a run folder written before the rename still evaluates on its own held-out part
    seqlab.lm.train(corpus_file, steps=2, val_split=0.2, out=tmp_path / "r", **TINY)
    config = json.loads((tmp_path / "r" / "config.json").read_text())
    config["train"]["val_fraction"] = config["train"].pop("val_split")
    (tmp_path / "r" / "config.json").write_text(json.dumps(config))
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert seqlab.lm.evaluate(tmp_path / "r")["tokens"] == metrics["val"]["tokens"]


def test_lm_run_folder_of_the_old_format_still_loads(corpus_file, tmp_path):
    # Before the one training loop, history.json was a list of rows with "train_loss", and
    # config.json had no "format"; such folders load, their history read in today's keys.
    out = tmp_path / "r"
    lm = seqlab.lm.train(corpus_file, steps=4, eval_every=2, out=out, **TINY)
    rows = [
        {"step": r["step"], "time_s": r["time_s"], "val_loss": r["val_loss"],
         "train_loss": r.get("loss")}
        for r in lm.history
    ]  # fmt: skip
    (out / "history.json").write_text(json.dumps(rows))
    config = json.loads((out / "config.json").read_text())
    del config["format"]
    (out / "config.json").write_text(json.dumps(config))
    old = seqlab.load(out)
    assert [r["step"] for r in old.history] == [0, 2, 4]
    assert old.history[-1]["loss"] == pytest.approx(lm.history[-1]["loss"])
    assert old.generate("the ", 20, seed=0) == lm.generate("the ", 20, seed=0)


@pytest.mark.parametrize("recipe", ["default", "lecture"])
def test_lm_trains_in_bf16(corpus_file, tmp_path, recipe):
    lm = seqlab.lm.train(
        corpus_file, steps=3, precision="bf16", recipe=recipe, out=tmp_path / recipe, **TINY
    )
    assert math.isfinite(lm.metrics["val"]["loss"]) and lm.train_config["precision"] == "bf16"
    assert all(p.dtype == torch.float32 for p in lm.model.parameters())
    with pytest.raises(ValueError, match="precision must be one of"):
        seqlab.lm.train(corpus_file, steps=1, precision="fp16", **TINY)
