"""seqlab's compiled CPU LSTM kernel: equal to nn.LSTM, forward and backward."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
import torch

from seqlab.models import _lstm_cpu
from seqlab.models.rnn import LSTMClassifier

pytestmark = pytest.mark.skipif(
    shutil.which("cc") is None and shutil.which("gcc") is None,
    reason="no C compiler (make test installs gcc with apt); the kernel falls back to nn.LSTM",
)


@pytest.fixture(autouse=True)
def _kernel_on(monkeypatch):
    monkeypatch.setenv("SEQLAB_LSTM_KERNEL", "c")  # a build failure is an error, not a fallback
    assert _lstm_cpu.available()


def _weights(m: torch.nn.LSTM, suffix: str = "") -> list[torch.Tensor]:
    names = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")
    return [getattr(m, n + suffix) for n in names]


def _grads(tensors) -> list[torch.Tensor]:
    out = [t.grad.clone() for t in tensors]
    for t in tensors:
        t.grad = None
    return out


# hidden 7 and 20: widths that are not multiples of the kernel's 16-column blocks;
# batch 6: a last group of rows that is not full
@pytest.mark.parametrize(("batch", "steps", "inputs", "hidden"), [(6, 9, 5, 7), (9, 13, 3, 20)])
def test_kernel_matches_nn_lstm_forward_and_backward(batch, steps, inputs, hidden):
    torch.manual_seed(0)
    m = torch.nn.LSTM(inputs, hidden, batch_first=True)
    x = torch.randn(batch, steps, inputs, requires_grad=True)
    lengths = torch.randint(0, steps + 1, (batch,))
    lengths[0] = steps
    weight = torch.randn(batch, steps, hidden)  # a loss that reads every true step
    params = [x, *m.parameters()]

    out = _lstm_cpu.lstm(x, lengths, *_weights(m))
    (out * weight).sum().backward()
    got = _grads(params)

    ref, _ = m(x)
    inside = (torch.arange(steps)[None, :] < lengths[:, None]).unsqueeze(-1)
    (ref * inside * weight).sum().backward()
    want = _grads(params)

    assert out.shape == (batch, steps, hidden)
    torch.testing.assert_close(out, ref * inside, atol=1e-5, rtol=1e-4)
    assert not out[~inside.expand_as(out)].any(), "steps past a length must be zero"
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w, atol=1e-5, rtol=1e-4)


def test_kernel_result_does_not_depend_on_the_number_of_threads():
    torch.manual_seed(1)
    m = torch.nn.LSTM(4, 8, batch_first=True)
    x = torch.randn(40, 11, 4, requires_grad=True)
    lengths = torch.randint(1, 12, (40,))
    before = torch.get_num_threads()
    results = []
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            out = _lstm_cpu.lstm(x, lengths, *_weights(m))
            out.pow(2).sum().backward()
            results.append([out.detach(), *_grads([x, *m.parameters()])])
    finally:
        torch.set_num_threads(before)
    for a, b in zip(*results, strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"bidirectional": True},
        {"num_layers": 2, "residual": True, "pooling": "mean"},
        {"bidirectional": True, "num_layers": 2, "pooling": "max"},
    ],
)
@pytest.mark.parametrize("vocab_size", [30, 500])
def test_classifier_with_the_kernel_equals_nn_lstm(monkeypatch, options, vocab_size):
    """The whole classifier: the same logits and gradients as with nn.LSTM, padding row
    included, with the token shortcut ((E W^T + b)[tokens] for the first layer: a table of 30
    rows, 80 positions) and without it (500 rows: the vectors are looked up)."""
    model = LSTMClassifier(vocab_size=vocab_size, embedding_dim=6, hidden_size=5, seed=3, **options)
    with torch.no_grad():
        model.embedding.weight[0] = 0.5  # a padding row that is not zero
    tokens = torch.randint(1, 30, (8, 10))
    tokens[2, 1] = 0  # the padding id inside a sequence
    lengths = torch.tensor([10, 4, 7, 1, 10, 3, 9, 6])

    runs = []
    for kernel in ("c", "torch"):
        monkeypatch.setenv("SEQLAB_LSTM_KERNEL", kernel)
        logits = model(tokens=tokens, lengths=lengths)
        logits.sum().backward()
        runs.append([logits.detach(), *_grads(list(model.parameters()))])
    for a, b in zip(*runs, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)
    assert not runs[0][1][0].any(), "the padding row of the embedding must get no gradient"


def test_classifier_on_numeric_values_uses_the_kernel_and_matches(monkeypatch):
    model = LSTMClassifier(input_size=3, hidden_size=4, num_classes=1, seed=0)
    values = torch.randn(5, 12, 3)
    lengths = torch.tensor([12, 5, 8, 1, 12])
    out_c = model(values=values, lengths=lengths)
    monkeypatch.setenv("SEQLAB_LSTM_KERNEL", "torch")
    out_t = model(values=values, lengths=lengths)
    torch.testing.assert_close(out_c, out_t, atol=1e-6, rtol=1e-5)


def test_usable_only_where_it_pays_off():
    x = torch.zeros(2, 3, 4)
    assert _lstm_cpu.usable(x, 64)
    assert not _lstm_cpu.usable(x, _lstm_cpu.MAX_HIDDEN + 1)
    assert not _lstm_cpu.usable(x.double(), 32)


def test_env_variable_choices(monkeypatch):
    monkeypatch.setenv("SEQLAB_LSTM_KERNEL", "torch")
    assert not _lstm_cpu.available()
    monkeypatch.setenv("SEQLAB_LSTM_KERNEL", "fast")
    with pytest.raises(ValueError, match="SEQLAB_LSTM_KERNEL must be auto, c or torch, got 'fast'"):
        _lstm_cpu.available()


def test_bad_lengths_are_refused():
    m = torch.nn.LSTM(2, 3, batch_first=True)
    with pytest.raises(ValueError, match=r"lengths must be 2 values in \[0, 4\]"):
        _lstm_cpu.lstm(torch.zeros(2, 4, 2), torch.tensor([4, 5]), *_weights(m))


def test_fresh_build_goes_to_the_cache_and_leaves_the_process_float_mode_alone(tmp_path):
    """A first build (in a new cache folder) writes one library and no temporary files, and
    loading it does not switch the process to flush-denormals-to-zero (what -ffast-math's
    startup code would do to PyTorch as well)."""
    code = (
        "import torch\n"
        "from seqlab.models import _lstm_cpu\n"
        "assert _lstm_cpu.available()\n"
        "tiny = torch.tensor([1e-40]) * torch.tensor([1.0])\n"
        "print(tiny.item() > 0)\n"
    )
    env = {**os.environ, "SEQLAB_CACHE": str(tmp_path), "SEQLAB_LSTM_KERNEL": "c"}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "True"
    files = sorted(p.name for p in (tmp_path / "kernels").iterdir())
    assert len(files) == 1 and files[0].startswith("lstm_cpu-") and files[0].endswith(".so")


def test_without_a_compiler_the_model_falls_back_to_nn_lstm_with_a_warning(tmp_path):
    code = (
        "import warnings, torch\n"
        "from seqlab.models import _lstm_cpu\n"
        "from seqlab.models.rnn import LSTMClassifier\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    m = LSTMClassifier(vocab_size=20, hidden_size=4)\n"
        "    out = m(tokens=torch.tensor([[3, 4, 5]]), lengths=torch.tensor([3]))\n"
        "print(tuple(out.shape), _lstm_cpu.available())\n"
        "print([str(w.message) for w in caught])\n"
    )
    env = {**os.environ, "CC": str(tmp_path / "no-such-cc"), "SEQLAB_CACHE": str(tmp_path)}
    env.pop("SEQLAB_LSTM_KERNEL", None)
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    shape_line, warnings_line = done.stdout.strip().splitlines()
    assert shape_line == "(1, 2) False"
    assert "seqlab's CPU LSTM kernel is unavailable, using nn.LSTM" in warnings_line

    env["SEQLAB_LSTM_KERNEL"] = "c"  # asked for the kernel: a failed build is an error
    failed = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert failed.returncode != 0 and "no-such-cc" in failed.stderr


class _ThreadRecorder:
    """Stands in for the loaded kernel library: records the thread count (the fourth
    argument) of every call, then calls the real function."""

    def __init__(self, lib) -> None:
        self.lib = lib
        self.calls: list[tuple[str, int]] = []

    def __getattr__(self, name: str):
        fn = getattr(self.lib, name)

        def call(*args):
            self.calls.append((name, args[3]))
            return fn(*args)

        return call


@pytest.fixture
def recorder(monkeypatch):
    rec = _ThreadRecorder(_lstm_cpu._lib)
    monkeypatch.setattr(_lstm_cpu, "_lib", rec)
    before = torch.get_num_threads()
    yield rec
    torch.set_num_threads(before)


@pytest.mark.parametrize("threads", [1, 2])
def test_kernel_runs_on_torchs_thread_count(recorder, threads):
    """torch.set_num_threads(1) (what --threads 1 does) makes the kernel single-threaded;
    the batch of 64 rows would allow 8 threads."""
    torch.set_num_threads(threads)
    m = torch.nn.LSTM(3, 8, batch_first=True)
    x = torch.randn(64, 5, 3, requires_grad=True)
    _lstm_cpu.lstm(x, torch.full((64,), 5), *_weights(m)).sum().backward()
    assert recorder.calls == [("lstm_forward", threads), ("lstm_backward", threads)]


def test_small_batches_run_on_one_thread(recorder):
    torch.set_num_threads(2)
    m = torch.nn.LSTM(3, 8, batch_first=True)
    x = torch.randn(15, 5, 3)  # fewer than 8 rows per thread for two threads
    _lstm_cpu.lstm(x, torch.full((15,), 5), *_weights(m))
    assert recorder.calls == [("lstm_forward", 1)]


@pytest.mark.parametrize("threads", [1, 2])
def test_fit_threads_sets_the_kernels_threads_for_the_run(recorder, threads):
    """seqlab.fit(threads=N) (TrainConfig.threads, the CLI's --threads) reaches the kernel,
    and torch's own count is back afterwards."""
    from seqlab.data.base import TextDataset
    from seqlab.text import TextVectorizer
    from seqlab.training.trainer import fit

    texts = [f"w{i % 7} w{i % 5} w{i % 3} w{i % 2}" for i in range(64)]
    ds = TextDataset(texts, torch.arange(64).remainder(2).numpy(), ["a", "b"])
    vec = TextVectorizer(output_mode="int", maxlen=4).fit(texts)
    model = LSTMClassifier(vocab_size=vec.vocab_size, embedding_dim=4, hidden_size=8, seed=0)
    torch.set_num_threads(3 - threads)  # the other count, to be restored after the run
    fit(model, vec, ds, epochs=1, batch_size=64, val_split=0, threads=threads, progress=False)
    assert recorder.calls, "the classifier did not use the kernel"
    assert {n for _, n in recorder.calls} == {threads}
    assert torch.get_num_threads() == 3 - threads
