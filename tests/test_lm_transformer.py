"""The GPT-style transformer language model: shapes, causality, the sliding attention band,
the key/value cache against full recomputation (past block_size), generation with and
without the cache, training on the one loop (resume, streaming, bf16), save / load, the
command line, and its errors."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner

import seqlab
import seqlab.lm
from _standalone import run_predict_scripts
from seqlab.cli.lm import lm as lm_cli
from seqlab.cli.main import cli
from seqlab.lm.model import stream_loss
from seqlab.lm.task import LanguageModelTask
from seqlab.lm.train import make_config
from seqlab.models import registry
from seqlab.models.gpt import TransformerLanguageModel
from seqlab.models.gpt_stepper import TransformerStepper

TEXT = (
    "It is the will to truth which has tempted us to many a hazardous enterprise; the famous "
    "truthfulness of which all philosophers have hitherto spoken with respect. "
) * 8

# A tiny transformer: block_size 8, so 40 generated characters run far past the context.
TINY = dict(model="transformer", block_size=8, d_model=32, num_layers=2, num_heads=2,
            batch_size=4, eval_tokens=300, progress=False, device="cpu")  # fmt: skip

pytestmark = pytest.mark.usefixtures("one_thread")


def small_model(seed: int = 0, **kw) -> TransformerLanguageModel:
    torch.manual_seed(seed)
    sizes = dict(vocab_size=11, block_size=5, d_model=16, num_layers=3, num_heads=2, **kw)
    return TransformerLanguageModel(**sizes).eval()


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> seqlab.lm.LanguageModel:
    """A small transformer (context 16) trained until it has nearly memorised TEXT, so that
    its next-character distributions are sharp."""
    out = tmp_path_factory.mktemp("gpt") / "run"
    kw = dict(TINY, block_size=16, d_model=48, batch_size=8, eval_every=50)
    return seqlab.lm.train(text=TEXT, steps=150, lr=1e-2, warmup=0.1, out=out, seed=0, **kw)


# ---------------------------------------------------------------------- the model


def test_lm_transformer_shapes_state_and_config():
    model = registry.build("lm-transformer", vocab_size=11, block_size=5, d_model=16,
                           num_layers=3, num_heads=2)  # fmt: skip
    assert type(model) is TransformerLanguageModel and model.stateful is False
    assert registry.build("lm-transformer", **model.config).config == model.config
    logits, state = model(torch.randint(0, 11, (2, 9)))
    assert logits.shape == (2, 9, 11)
    # per layer keys and values of the last block_size - 1 tokens, then the position
    assert len(state) == 2 * 3 + 1 and int(state[-1]) == 9
    assert all(s.shape == (2, 2, 4, 8) for s in state[:-1])
    _, state = model(torch.randint(0, 11, (2, 2)))  # fewer tokens than the window
    assert state[0].shape == (2, 2, 2, 8) and int(state[-1]) == 2
    assert model.decoder.weight is model.embedding.weight  # tied by default
    untied = TransformerLanguageModel(11, block_size=4, d_model=8, num_layers=1, num_heads=2,
                                      tie_weights=False)  # fmt: skip
    assert untied.decoder.weight is not untied.embedding.weight


def test_lm_transformer_initial_weights():
    # init="torch": nanoGPT's N(0, 0.02), residual projections N(0, 0.02 / sqrt(2 x 3 layers))
    model = small_model().requires_grad_(False)
    block = model.blocks[0]
    assert float(block.attention.qkv.weight.std()) == pytest.approx(0.02, rel=0.1)
    assert float(block.proj.weight.std()) == pytest.approx(0.02 / math.sqrt(6), rel=0.1)
    assert float(block.fc.bias.abs().max()) == 0.0
    # so the first prediction is close to uniform: loss ln(11)
    logits, _ = model(torch.randint(0, 11, (4, 5)))
    assert float(logits.abs().max()) < 0.5
    keras = TransformerLanguageModel(11, block_size=4, d_model=8, num_layers=1, num_heads=2,
                                     init="keras")  # fmt: skip
    with torch.no_grad():
        assert float(keras.embedding.weight.abs().max()) <= 0.05  # Keras's Embedding, tied
        assert bool((keras.blocks[0].norm1.weight == 1).all())


def test_lm_transformer_is_causal():
    model = small_model()
    x = torch.randint(0, 11, (1, 12))
    before, _ = model(x)
    changed = x.clone()
    changed[0, 7] = (x[0, 7] + 1) % 11
    after, _ = model(changed)
    torch.testing.assert_close(after[:, :7], before[:, :7], rtol=0, atol=0)
    assert not torch.allclose(after[:, 7], before[:, 7])


def test_lm_transformer_attention_is_a_band_of_block_size():
    # Each layer looks block_size - 1 tokens back, so with 3 layers of width 5 the logits at
    # position t depend on tokens t - 12 .. t and on nothing before.
    model = small_model()
    x = torch.randint(0, 11, (1, 30))
    base, _ = model(x)
    for back, depends in ((13, False), (12, True)):
        changed = x.clone()
        changed[0, 29 - back] = (x[0, 29 - back] + 1) % 11
        moved = not torch.equal(model(changed)[0][0, 29], base[0, 29])
        assert moved is depends, back


def reference_forward(model: TransformerLanguageModel, x: torch.Tensor) -> torch.Tensor:
    """The model's function written out plainly: rotary positions as complex rotations,
    attention as an explicit softmax under a banded causal mask of width block_size."""
    B, T = x.shape
    W, D = model.block_size, model.head_dim
    pos = torch.arange(T, dtype=torch.float64)
    freqs = 10_000.0 ** (-torch.arange(0, D, 2, dtype=torch.float64) / D)
    turn = torch.polar(torch.ones(T, D // 2, dtype=torch.float64), pos[:, None] * freqs)

    def rotate(t):  # (B, H, T, D): feature pairs (i, i + D/2) as complex numbers
        z = torch.complex(t[..., : D // 2].double(), t[..., D // 2 :].double()) * turn
        return torch.cat([z.real, z.imag], -1).float()

    i, j = torch.arange(T)[:, None], torch.arange(T)[None, :]
    allowed = (j <= i) & (i - j < W)
    h = model.embedding(x)
    for block in model.blocks:
        att = block.attention
        a = F.layer_norm(h, (h.shape[-1],), block.norm1.weight, block.norm1.bias)
        q, k, v = att.qkv(a).view(B, T, 3, att.num_heads, D).permute(2, 0, 3, 1, 4)
        scores = rotate(q) @ rotate(k).transpose(-1, -2) / math.sqrt(D)
        y = scores.masked_fill(~allowed, float("-inf")).softmax(-1) @ v
        h = h + att.proj(y.transpose(1, 2).reshape(B, T, -1))
        m = F.layer_norm(h, (h.shape[-1],), block.norm2.weight, block.norm2.bias)
        h = h + block.proj(F.gelu(block.fc(m)))
    return model.decoder(model.norm(h))


def test_lm_transformer_matches_a_plain_reference_implementation():
    model = small_model(seed=3)
    x = torch.randint(0, 11, (2, 17))  # 17 > block_size 5: the band binds
    with torch.no_grad():
        torch.testing.assert_close(model(x)[0], reference_forward(model, x), rtol=0, atol=1e-5)


def test_lm_transformer_cache_equals_full_recomputation_past_block_size():
    model = small_model(seed=1)
    x = torch.randint(0, 11, (2, 40))  # 8 x block_size
    with torch.no_grad():
        whole, _ = model(x)
        state, steps = None, []
        for t in range(40):  # one token at a time, as generation feeds them
            logits, state = model(x[:, t : t + 1], state)
            steps.append(logits)
        torch.testing.assert_close(torch.cat(steps, 1), whole, rtol=0, atol=1e-5)
        assert all(s.shape[2] == 4 for s in state[:-1]) and int(state[-1]) == 40
        # chunks of any length (longer and shorter than the window) after a prompt
        pieces, state = [], None
        for a, b in ((0, 3), (3, 14), (14, 15), (15, 40)):
            logits, state = model(x[:, a:b], state)
            pieces.append(logits)
        torch.testing.assert_close(torch.cat(pieces, 1), whole, rtol=0, atol=1e-5)


@pytest.mark.parametrize(("block_size", "prompt"), [(5, 7), (5, 2), (1, 3)])
def test_lm_transformer_numpy_step_equals_full_recomputation_past_block_size(block_size, prompt):
    # The generation loop's step: NumPy, the cache in a ring buffer of block_size slots. A
    # prompt of 7 > block_size leaves a cache that wraps around the ring (positions 3..6 in
    # slots 3, 4, 0, 1); block_size 1 attends to the token itself only.
    torch.manual_seed(4)
    model = TransformerLanguageModel(vocab_size=11, block_size=block_size, d_model=16,
                                     num_layers=3, num_heads=2).eval()  # fmt: skip
    x = torch.randint(0, 11, (1, prompt + 8 * block_size + 3))
    with torch.no_grad():  # random biases and norms too, so that every weight is used
        for p in model.parameters():
            p.add_(0.3 * torch.randn_like(p))
        whole = model(x)[0][0].numpy()
        _, state = model(x[:, :prompt])
    stepper = model.numpy_stepper(state)
    steps = np.stack([stepper.logits_after(int(t)) for t in x[0, prompt:]])
    np.testing.assert_allclose(steps, whole[prompt:], rtol=0, atol=1e-5)
    assert stepper.position == x.shape[1] and steps.dtype == np.float32
    fresh = TransformerStepper(model)  # no state: the first token too
    steps = np.stack([fresh.logits_after(int(t)) for t in x[0]])
    np.testing.assert_allclose(steps, whole, rtol=0, atol=1e-5)


def test_lm_transformer_numpy_step_copies_the_weights_and_checks_the_state():
    model = small_model(seed=5)
    with torch.no_grad():
        _, state = model(torch.tensor([[1, 2, 3]]))
        expected = model(torch.tensor([[1, 2, 3, 4]]))[0][0, -1].numpy()
    stepper = model.numpy_stepper(state)
    with torch.no_grad():
        model.decoder.bias.add_(1.0)  # training after the stepper was made does not reach it
    np.testing.assert_allclose(stepper.logits_after(4), expected, rtol=0, atol=1e-5)
    with torch.no_grad():
        _, pair = model(torch.zeros(2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="steps a batch of one, got a state for a batch of 2"):
        model.numpy_stepper(pair)
    with pytest.raises(ValueError, match="state has 2 tensors, but this model's cache has 7"):
        model.numpy_stepper(state[-2:])


def test_lm_transformer_stream_evaluation_is_the_banded_full_pass():
    # Held-out scoring reads chunks with the cache carried: every token then gets the same
    # prediction as in one pass over the whole text.
    model = small_model(seed=2)
    ids = np.random.default_rng(0).integers(0, 11, 60)
    total, n = stream_loss(model, ids, batch_size=1, seq_len=7)
    with torch.no_grad():
        logits, _ = model(torch.from_numpy(ids[None, :-1]))
        expected = F.cross_entropy(logits[0], torch.from_numpy(ids[1:]), reduction="sum")
    assert n == 59 and total == pytest.approx(float(expected), rel=1e-5)


# ---------------------------------------------------------------------- generation


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lm_transformer_generates_the_same_text_with_and_without_the_cache(trained, seed):
    kw = dict(length=40, seed=seed)  # prompt 8 + 40 tokens: 3 x block_size
    cached = trained.generate("the will", temperature=1.0, **kw)
    assert len(cached) == 40
    assert cached == trained.generate("the will", temperature=1.0, loop="full", **kw)
    filtered = dict(temperature=0.7, top_k=5, top_p=0.9, **kw)
    assert trained.generate("truth ", **filtered) == trained.generate(
        "truth ", loop="full", **filtered
    )
    assert "".join(trained.stream("the will", **kw)) == cached


def test_lm_transformer_long_generation_steps_in_numpy_with_the_full_re_run_text(
    trained, monkeypatch
):
    # 160 tokens after the prompt: 10 x block_size, so the ring buffer wraps ten times.
    made = []
    original = TransformerLanguageModel.numpy_stepper
    monkeypatch.setattr(TransformerLanguageModel, "numpy_stepper",
                        lambda self, state: made.append(original(self, state)) or made[-1])  # fmt: skip
    for seed in (0, 1):
        cached = trained.generate("the will", length=160, temperature=1.0, seed=seed)
        assert cached == trained.generate("the will", length=160, loop="full", seed=seed)
    assert [stepper.position for stepper in made] == [8 + 159] * 2  # the cached loop used it


def test_lm_transformer_generation_options_work_as_for_the_lstm(trained):
    full = trained.generate("the ", length=60, seed=4)
    assert trained.generate("the ", length=60, seed=4) == full  # same seed, same text
    stop = full[20:22]
    assert trained.generate("the ", length=60, seed=4, stop=stop) == full[: full.index(stop)]
    # a near-zero temperature is the argmax: the memorised text comes back
    greedy = trained.generate("It is the will", length=20, temperature=1e-9, seed=None)
    assert greedy == trained.generate("It is the will", length=20, temperature=1e-9, seed=7)
    # nanoGPT's loop (crop to block_size, re-run) is a different computation past the
    # window, but runs on the same call
    assert len(trained.generate("the will", length=30, loop="window", seed=0)) == 30
    assert trained.maxlen == 16
    with pytest.raises(ValueError, match="temperature"):
        trained.generate("the", temperature=0)


# ---------------------------------------------------------------------- training


def test_lm_transformer_trains_on_windows_of_block_size(trained):
    config = trained.train_config
    assert config["model"] == "transformer" and config["block_size"] == 16
    assert trained.model.config["block_size"] == 16 and trained.model.config["num_heads"] == 2
    # the task reads the model's property: windows of block_size, nothing carried
    cfg = make_config(steps=1, **{k: v for k, v in TINY.items() if k not in ("progress", "device")})
    ids = np.arange(200) % 7
    probe = registry.build("lm-transformer", vocab_size=7, block_size=8, d_model=8,
                           num_layers=1, num_heads=2)  # fmt: skip
    task = LanguageModelTask(cfg, torch.device("cpu"), ids, None, model=probe)
    assert task.stateful is False and task.seq_len == 8 != cfg.seq_len
    seen = []
    probe.register_forward_pre_hook(lambda m, args: seen.append((args[0].shape, args[1:])))
    for batch in list(task.batches("train", 0))[:3]:
        task.loss(probe, batch)
        task.after_step()
    assert [s for s, _ in seen] == [(4, 8)] * 3 and all(rest == () for _, rest in seen)
    assert task.hidden is None and task.state()[1]["hidden"] == 0


def test_lm_transformer_learns_a_text(trained):
    assert trained.history[0]["val_loss"] > 3.0  # ln(25) = 3.2 nats: uniform at the start
    assert trained.history[-1]["loss"] < 0.6 and trained.metrics["val"]["loss"] < 0.8
    greedy = trained.generate("It is the will", length=20, temperature=1e-9)
    assert greedy == " to truth which has "


def test_lm_transformer_resume_continues_exactly(tmp_path):
    # Dropout draws random numbers and the run crosses an epoch boundary; the constant
    # schedule keeps the learning rate independent of the two legs' budgets.
    kw = dict(TINY, dropout=0.2, schedule="constant", batch_size=16, seed=3)
    straight = seqlab.lm.train(text=TEXT, steps=14, out=tmp_path / "a", **kw)
    assert straight.metrics["epochs"] > 1
    first = seqlab.lm.train(text=TEXT, steps=6, out=tmp_path / "b", **kw)
    assert first.metrics["steps"] == 6
    resumed = seqlab.lm.train(text=TEXT, steps=14, out=tmp_path / "b", resume=True,
                              progress=False, device="cpu")  # fmt: skip
    for (name, a), (_, b) in zip(
        straight.model.state_dict().items(), resumed.model.state_dict().items()
    ):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)
    assert resumed.metrics["val"]["loss"] == straight.metrics["val"]["loss"]
    with pytest.raises(ValueError, match="block_size"):
        seqlab.lm.train(text=TEXT, steps=20, out=tmp_path / "b", resume=True, block_size=16)


def test_lm_transformer_stream_training_equals_in_memory(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TEXT, encoding="utf-8")
    kw = dict(TINY, steps=5, seed=1)
    memory = seqlab.lm.train(corpus, out=tmp_path / "m", **kw)
    streamed = seqlab.lm.train(corpus, stream=True, stream_block=64, out=tmp_path / "s", **kw)
    for a, b in zip(memory.model.parameters(), streamed.model.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert memory.metrics["val"] == streamed.metrics["val"]


def test_lm_transformer_trains_in_bf16(tmp_path):
    lm = seqlab.lm.train(text=TEXT, steps=3, precision="bf16", out=tmp_path / "r", **TINY)
    assert math.isfinite(lm.metrics["val"]["loss"]) and lm.train_config["precision"] == "bf16"
    assert all(p.dtype == torch.float32 for p in lm.model.parameters())
    assert len(lm.generate("the ", 20, seed=0)) == 20


def test_lm_transformer_save_load_round_trip(trained, tmp_path):
    config = json.loads((trained.path / "config.json").read_text())
    assert config["model"]["name"] == "lm-transformer"
    loaded = seqlab.load(trained.path)
    assert isinstance(loaded, seqlab.lm.LanguageModel)
    x = torch.from_numpy(trained.vocab.encode("the will to truth")[None])
    with torch.no_grad():
        torch.testing.assert_close(loaded.model(x)[0], trained.model(x)[0], rtol=0, atol=0)
    assert loaded.generate("the ", 30, seed=5) == trained.generate("the ", 30, seed=5)
    # the tied output layer is stored once, as the embedding
    from safetensors import safe_open

    with safe_open(str(trained.path / "model.safetensors"), "pt") as f:
        assert "embedding.weight" in f.keys() and "decoder.weight" not in f.keys()
    saved = trained.save(tmp_path / "copy")
    assert seqlab.lm.load(saved).generate("the ", 10, seed=1) == trained.generate(
        "the ", 10, seed=1
    )


def test_lm_transformer_export_and_its_predict_script_continue_past_block_size(trained, tmp_path):
    # seqlab export of the run folder: the whole-sequence graph (the cache has no fixed size)
    out = tmp_path / "exported"
    result = CliRunner().invoke(cli, ["export", str(trained.path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    settings = json.loads((out / "preprocessing.json").read_text())
    assert (settings["graph"], settings["inputs"], settings["outputs"]) == (
        "sequence",
        ["ids"],
        ["logits"],
    )
    prompt = "the famous truthfulness of which"  # 32 characters, 2 x block_size
    args = ["--json", "--top", "3", "--length", "40", prompt]
    script = run_predict_scripts({"gpt": (out, args)})["gpt"]  # numpy + onnxruntime only
    assert script["code"] == 0, script["stderr"]
    record = json.loads(script["stdout"])
    with torch.no_grad():
        logits, _ = trained.model(torch.from_numpy(trained.vocab.encode(prompt))[None])
    expected = torch.softmax(logits[0, -1], -1).numpy()
    top = np.argsort(-expected, kind="stable")[:3]
    assert [r["token"] for r in record["next"]] == [trained.vocab.itos[i] for i in top]
    np.testing.assert_allclose([r["probability"] for r in record["next"]], expected[top], atol=1e-5)
    # greedy, re-reading the whole text at every token: the cached generation's text
    assert record["continuation"] == trained.generate(prompt, length=40, temperature=1e-9)
    assert record["continuation"].startswith(" all philosophers")


# ---------------------------------------------------------------------- command line


def test_lm_transformer_cli_train_and_generate(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TEXT, encoding="utf-8")
    out = tmp_path / "run"
    args = ["train", "--corpus", str(corpus), "--model", "transformer", "--steps", "3",
            "--block-size", "8", "--set", "d_model=16", "--layers", "2", "--heads", "2",
            "--batch-size", "4", "--set", "eval_tokens=200", "--set", "warmup=0.1",
            "--out", str(out), "--device", "cpu", "--quiet"]  # fmt: skip
    result = CliRunner().invoke(lm_cli, args)
    assert result.exit_code == 0, result.output
    assert "3 steps" in result.output and "held-out loss" in result.output
    config = json.loads((out / "config.json").read_text())
    assert config["model"]["config"] == {
        "vocab_size": len(set(TEXT)), "block_size": 8, "d_model": 16, "num_layers": 2,
        "num_heads": 2, "dropout": 0.0, "tie_weights": True, "init": "torch",
    }  # fmt: skip
    assert config["train"]["warmup"] == 0.1
    gen = ["generate", str(out), "--prompt", "the will", "-t", "0.5", "1.0", "--length", "30",
           "--seed", "2"]  # fmt: skip
    cached = CliRunner().invoke(lm_cli, gen)
    assert cached.exit_code == 0, cached.output
    headers = [line for line in cached.output.splitlines() if line.startswith("-----")]
    assert headers == ["----- temperature 0.5", "----- temperature 1.0"]
    assert CliRunner().invoke(lm_cli, [*gen, "--loop", "full"]).output == cached.output


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (["--d-model", "30", "--heads", "4"],
         "--d-model 30 is not a multiple of --num-heads 4"),
        (["--block-size", "0"], "block_size must be >= 1, got 0"),
        (["--d-model", "6", "--heads", "2"], "is odd, but rotary position embeddings"),
        (["--recipe", "lecture"], "--model transformer trains with --recipe default"),
        (["--set", "block_size=abc"], "block_size=abc: expected an integer"),
        (["--set", "attention_dropout=1"], "attention_dropout must be in [0, 1), got 1"),
    ],
)  # fmt: skip
def test_lm_transformer_cli_bad_sizes_are_one_line_errors(tmp_path, settings, message):
    corpus = tmp_path / "c.txt"
    corpus.write_text(TEXT)
    args = ["train", "--corpus", str(corpus), "--model", "transformer", "--steps", "1",
            "--out", str(tmp_path / "r"), *settings]  # fmt: skip
    result = CliRunner().invoke(lm_cli, args)
    assert result.exit_code == 2 and message in result.output, result.output
    assert "Traceback" not in result.output
    assert len([line for line in result.output.splitlines() if "Error" in line]) == 1


def test_lm_transformer_bad_sizes_name_the_parameter():
    sizes = dict(vocab_size=10, block_size=8, d_model=16, num_layers=1, num_heads=2)
    for bad, message in [
        ({"num_heads": 3}, "d_model=16 is not a multiple of num_heads=3"),
        ({"block_size": 0}, "block_size must be an integer >= 1, got 0"),
        ({"num_layers": 2.5}, "num_layers must be an integer >= 1, got 2.5"),
        ({"dropout": 1.0}, r"dropout must be a number in \[0, 1\), got 1.0"),
        ({"vocab_size": 1}, "vocab_size must be an integer >= 2"),
        ({"init": "xavier"}, "init must be 'keras'"),
    ]:
        with pytest.raises(ValueError, match=message):
            TransformerLanguageModel(**{**sizes, **bad})
    model = TransformerLanguageModel(**sizes)
    with pytest.raises(ValueError, match="tokens must be a"):
        model(torch.zeros(5, dtype=torch.long))
    with pytest.raises(ValueError, match="state has 2 tensors"):
        model(torch.zeros(1, 2, dtype=torch.long), (torch.zeros(1), torch.zeros(1)))
    with pytest.raises(ValueError, match="input_encoding"):
        make_config(model="transformer", input_encoding="one_hot", steps=1).validate()


def test_lm_transformer_attention_dropout_apart_from_dropout(tmp_path):
    same = small_model(dropout=0.2)
    apart = small_model(dropout=0.2, attention_dropout=0.0)
    assert [b.attention.dropout for b in same.blocks] == [0.2] * 3  # default: as dropout
    assert [b.attention.dropout for b in apart.blocks] == [0.0] * 3
    assert all(b.drop.p == 0.2 and b.attention.drop.p == 0.2 for b in apart.blocks)
    assert "attention_dropout" not in same.config and apart.config["attention_dropout"] == 0.0
    # the setting goes from lm.train through the run folder and back
    lm = seqlab.lm.train(text=TEXT, steps=2, dropout=0.2, attention_dropout=0.0,
                         out=tmp_path / "r", **TINY)  # fmt: skip
    loaded = seqlab.load(tmp_path / "r")
    assert [b.attention.dropout for b in loaded.model.blocks] == [0.0, 0.0]
    assert lm.model.config["attention_dropout"] == 0.0
    # with every other dropout off, two training-mode passes agree: none on the weights
    apart.train()
    for module in apart.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    x = torch.randint(0, 11, (2, 5))
    torch.testing.assert_close(apart(x)[0], apart(x)[0])
    with pytest.raises(ValueError, match=r"attention_dropout must be in \[0, 1\), got 1.5"):
        small_model(attention_dropout=1.5)
