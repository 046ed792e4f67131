"""nanoGPT's character recipe for a CPU, re-implemented for ``bench_lm.py``.

Written from karpathy/nanoGPT's ``model.py`` and ``train.py`` (the model, AdamW with weight
decay on the matrices only, the warm-up + cosine schedule, random training windows), run
with ``config/train_shakespeare_char.py`` and the README's CPU overrides::

    python train.py config/train_shakespeare_char.py --device=cpu --compile=False \\
        --eval_iters=20 --log_interval=1 --block_size=64 --batch_size=12 --n_layer=4 \\
        --n_head=4 --n_embd=128 --max_iters=2000 --lr_decay_iters=2000 --dropout=0.0

that is: 4 layers, 4 heads, 128-d, context 64, batch 12, learned absolute positions, tied
input/output embedding, GELU MLP, AdamW lr 1e-3 (betas 0.9 / 0.99, weight decay 0.1 on the
matrices), 100 warm-up iterations then a cosine to 1e-4 at iteration 2,000, gradient
clipping at 1.0, no dropout. ``bias=False`` is nanoGPT train.py's default (no biases in the
linear layers and LayerNorms); ``--nanogpt-bias`` gives GPT-2's biases.

Where this differs from running nanoGPT itself, and why:

* the training windows come from a generator of their own (seeded 1337, as train.py seeds
  torch), so the periodic held-out evaluation does not change which windows are drawn
  (nanoGPT's ``estimate_loss`` draws from the same global generator);
* no checkpoint is kept by its validation loss: nanoGPT keeps the best one on its ``val``
  split, which is the held-out text the benchmark reports, so selecting on it would tune
  on the test; the final weights are scored (the cosine ends at lr / 10, where the loss is
  lowest anyway);
* the score is not nanoGPT's ``estimate_loss`` (the mean loss of 20 random windows, where a
  character has on average 32 characters of context) but every held-out character once,
  each predicted from at least ``block_size - stride`` characters before it
  (:func:`sliding_loss`), the context seqlab's models get too; nanoGPT's own kind of number
  (non-overlapping windows, every position scored) is reported beside it;
* ``time`` schedule (the ``nanogpt-time`` recipe): the same recipe stretched to a wall-clock
  budget: 100 warm-up iterations, then the cosine runs over the share of the time budget
  used instead of over 2,000 iterations, and training stops when the budget is spent.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["GPT", "NanoRecipe", "get_lr", "sample", "sliding_loss", "train_nanogpt"]


@dataclass
class NanoRecipe:
    """config/train_shakespeare_char.py with the README's CPU overrides (see the module)."""

    block_size: int = 64
    batch_size: int = 12
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0
    bias: bool = False  # nanoGPT train.py's default
    learning_rate: float = 1e-3
    max_iters: int = 2000
    lr_decay_iters: int = 2000
    min_lr: float = 1e-4
    warmup_iters: int = 100
    beta1: float = 0.9
    beta2: float = 0.99
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    seed: int = 1337


class LayerNorm(nn.Module):
    """LayerNorm with an optional bias (nanoGPT's)."""

    def __init__(self, ndim: int, bias: bool) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(ndim))
        self.bias = nn.Parameter(torch.zeros(ndim)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x, self.weight.shape, self.weight, self.bias, 1e-5)


class CausalSelfAttention(nn.Module):
    def __init__(self, r: NanoRecipe) -> None:
        super().__init__()
        self.c_attn = nn.Linear(r.n_embd, 3 * r.n_embd, bias=r.bias)
        self.c_proj = nn.Linear(r.n_embd, r.n_embd, bias=r.bias)
        self.resid_dropout = nn.Dropout(r.dropout)
        self.n_head, self.n_embd, self.dropout = r.n_head, r.n_embd, r.dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, nh, T, hs)
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        y = F.scaled_dot_product_attention(
            q, k, v, dropout_p=self.dropout if self.training else 0, is_causal=True
        )
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    def __init__(self, r: NanoRecipe) -> None:
        super().__init__()
        self.c_fc = nn.Linear(r.n_embd, 4 * r.n_embd, bias=r.bias)
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(4 * r.n_embd, r.n_embd, bias=r.bias)
        self.dropout = nn.Dropout(r.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class Block(nn.Module):
    def __init__(self, r: NanoRecipe) -> None:
        super().__init__()
        self.ln_1 = LayerNorm(r.n_embd, bias=r.bias)
        self.attn = CausalSelfAttention(r)
        self.ln_2 = LayerNorm(r.n_embd, bias=r.bias)
        self.mlp = MLP(r)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    """nanoGPT's ``GPT``: learned absolute positions, tied ``wte`` / ``lm_head``."""

    def __init__(self, r: NanoRecipe, vocab_size: int) -> None:
        super().__init__()
        self.block_size = r.block_size
        self.transformer = nn.ModuleDict(
            dict(
                wte=nn.Embedding(vocab_size, r.n_embd),
                wpe=nn.Embedding(r.block_size, r.n_embd),
                drop=nn.Dropout(r.dropout),
                h=nn.ModuleList([Block(r) for _ in range(r.n_layer)]),
                ln_f=LayerNorm(r.n_embd, bias=r.bias),
            )
        )
        self.lm_head = nn.Linear(r.n_embd, vocab_size, bias=False)
        self.transformer.wte.weight = self.lm_head.weight  # weight tying
        self.apply(self._init_weights)
        for pn, p in self.named_parameters():  # GPT-2's scaled residual projections
            if pn.endswith("c_proj.weight"):
                torch.nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * r.n_layer))

    def _init_weights(self, module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                torch.nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def all_logits(self, idx: torch.Tensor) -> torch.Tensor:
        """Logits at every position (B, T, V); nanoGPT's forward returns the last one only
        when it is given no targets."""
        t = idx.size(1)
        assert t <= self.block_size, f"sequence of {t} tokens, block size {self.block_size}"
        pos = torch.arange(0, t, dtype=torch.long, device=idx.device)
        x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(pos))
        for block in self.transformer.h:
            x = block(x)
        return self.lm_head(self.transformer.ln_f(x))

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        logits = self.all_logits(idx)
        if targets is None:
            return logits[:, [-1], :], None
        loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1)
        return logits, loss

    def configure_optimizers(
        self, weight_decay: float, learning_rate: float, betas: tuple[float, float]
    ) -> torch.optim.Optimizer:
        params = [p for p in self.parameters() if p.requires_grad]
        groups = [
            {"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
            {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
        ]
        return torch.optim.AdamW(groups, lr=learning_rate, betas=betas)  # fused: CUDA only


def get_lr(it: int, r: NanoRecipe, fraction: float | None = None) -> float:
    """nanoGPT's ``get_lr``; with ``fraction`` (the share of a time budget used) the cosine
    runs over the budget instead of over ``lr_decay_iters`` iterations."""
    if it < r.warmup_iters:
        return r.learning_rate * (it + 1) / (r.warmup_iters + 1)
    if fraction is None:
        if it > r.lr_decay_iters:
            return r.min_lr
        decay_ratio = (it - r.warmup_iters) / (r.lr_decay_iters - r.warmup_iters)
    else:
        decay_ratio = min(1.0, fraction)
    coeff = 0.5 * (1.0 + math.cos(math.pi * decay_ratio))
    return r.min_lr + coeff * (r.learning_rate - r.min_lr)


@torch.inference_mode()
def sliding_loss(
    logits_of: Callable[[torch.Tensor], torch.Tensor],
    ids: np.ndarray,
    block_size: int,
    stride: int,
    max_targets: int | None = None,
    batch_size: int = 64,
) -> tuple[float, int]:
    """Summed cross-entropy (nats) and the number of targets when every token after the first
    is predicted once from a window of ``block_size`` tokens: the first window scores all its
    positions, each later one (``stride`` further on) its last ``stride``, so every target
    has at least ``block_size - stride`` tokens of context. ``stride = block_size`` is the
    mean over non-overlapping windows (nanoGPT's kind of estimate)."""
    ids = np.asarray(ids, dtype=np.int64)
    n = len(ids) if max_targets is None else min(len(ids), int(max_targets) + 1)
    width = min(int(block_size), n - 1)
    windows: list[tuple[int, int]] = []  # (start, offset of the first new target)
    done = 0  # targets 1 .. done are scored
    while done < n - 1:
        end = min(done + int(stride), n - 1) if done else width
        windows.append((end - width, done - (end - width)))
        done = end
    total, count = 0.0, 0
    for i in range(0, len(windows), batch_size):
        part = windows[i : i + batch_size]
        x = torch.from_numpy(np.stack([ids[s : s + width] for s, _ in part]))
        y = torch.from_numpy(np.stack([ids[s + 1 : s + width + 1] for s, _ in part]))
        losses = F.cross_entropy(logits_of(x).flatten(0, 1), y.flatten(), reduction="none")
        losses = losses.view(len(part), width)
        for row, (_, first) in enumerate(part):
            total += float(losses[row, first:].sum())
            count += width - first
    return total, count


def train_nanogpt(
    train_ids: np.ndarray,
    val_ids: np.ndarray,
    vocab_size: int,
    recipe: NanoRecipe,
    *,
    minutes: float | None,
    stretch: bool,
    eval_seconds: float,
    eval_tokens: int,
    eval_stride: int,
    say: Callable[[str], None] = print,
) -> tuple[GPT, dict[str, Any]]:
    """Train nanoGPT's model with its loop; ``stretch=False``: ``max_iters`` (+1, as
    train.py runs iterations 0 .. max_iters) or ``minutes``, whichever comes first;
    ``stretch=True``: the schedule runs over ``minutes``. Training time counts the steps
    (batch, forward, backward, update), not the evaluations. Returns the model and
    ``{"metrics", "history", "parameters", "settings"}``."""
    r = recipe
    if stretch and not minutes:
        raise ValueError("the time-stretched nanoGPT recipe needs --minutes")
    torch.manual_seed(r.seed)
    model = GPT(r, vocab_size)
    optimizer = model.configure_optimizers(r.weight_decay, r.learning_rate, (r.beta1, r.beta2))
    data = torch.from_numpy(np.asarray(train_ids, dtype=np.int64))
    gen = torch.Generator().manual_seed(r.seed)
    budget = None if minutes is None else 60.0 * minutes
    history: list[dict[str, Any]] = []

    def evaluate(it: int, train_time: float, train_loss: float | None) -> None:
        model.eval()
        nats, n = sliding_loss(
            model.all_logits, val_ids, r.block_size, eval_stride, max_targets=eval_tokens
        )
        model.train()
        row = {"step": it, "time_s": train_time, "tokens": it * r.batch_size * r.block_size,
               "train_loss": train_loss, "val_loss": nats / n}  # fmt: skip
        history.append(row)
        say(f"   nanoGPT iter {it} | {train_time:.0f}s | val {nats / n:.4f} nats/char")

    def step(lr: float) -> float:  # one iteration of train.py's loop
        for group in optimizer.param_groups:
            group["lr"] = lr
        ix = torch.randint(len(data) - r.block_size, (r.batch_size,), generator=gen)
        x = torch.stack([data[i : i + r.block_size] for i in ix])
        y = torch.stack([data[i + 1 : i + 1 + r.block_size] for i in ix])
        _, loss = model(x, y)
        loss.backward()
        if r.grad_clip != 0.0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), r.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return float(loss.detach())

    it, train_time, last_eval, losses = 0, 0.0, 0.0, []
    evaluate(0, 0.0, None)
    while True:
        t0 = time.perf_counter()
        losses.append(step(get_lr(it, r, train_time / budget if stretch and budget else None)))
        train_time += time.perf_counter() - t0
        it += 1
        done = (not stretch and it > r.max_iters) or (budget is not None and train_time >= budget)
        if done or train_time - last_eval >= eval_seconds:
            evaluate(it, train_time, float(np.mean(losses)))
            last_eval, losses = train_time, []
        if done:
            break
    model.eval()
    nats, n = sliding_loss(model.all_logits, val_ids, r.block_size, eval_stride)
    windows, m = sliding_loss(model.all_logits, val_ids, r.block_size, r.block_size)
    metrics = {
        "steps": it,
        "train_time_s": train_time,
        "tokens": it * r.batch_size * r.block_size,
        "val": {"loss": nats / n, "tokens": n, "mode": f"sliding windows, stride {eval_stride}"},
        "val_nanogpt_windows": {"loss": windows / m, "tokens": m},
    }
    parameters = sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())
    return model, {"metrics": metrics, "history": history, "parameters": parameters,
                   "settings": asdict(r) | {"stretch_to_minutes": stretch}}  # fmt: skip


def sample(model: GPT, ids: list[int], length: int, temperature: float, seed: int) -> list[int]:
    """nanoGPT's ``generate`` (crop to ``block_size``, re-run), drawing with seqlab's sampler so
    that the samples of every recipe are drawn the same way."""
    from seqlab.generation.sampling import TokenSampler

    draw = TokenSampler(temperature=temperature, seed=seed)
    out = list(ids)
    with torch.inference_mode():
        for _ in range(length):
            x = torch.tensor([out[-model.block_size :]])
            out.append(draw(model.all_logits(x)[0, -1]))
    return out[len(ids) :]
