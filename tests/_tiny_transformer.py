"""Tiny classifier runs for the serve tests (a transformer, and an LSTM beside it): a few
seconds each, on the bundled review snippets."""

from __future__ import annotations

from pathlib import Path


def tiny_transformer_run(out: Path, model: str = "transformer") -> Path:
    """Train a 1-layer, 2-head transformer (or, with ``model="lstm"``, an 8-unit LSTM) on part
    of the bundled review snippets for a few steps and write its run folder to ``out``
    (seeded: the same weights every time)."""
    import seqlab
    import seqlab.data.datasets as ds
    from seqlab.models import build
    from seqlab.text import TextVectorizer

    train, _ = ds.train_test_split(ds.snippets(), test_size=0.6, seed=0)
    vec = TextVectorizer(output_mode="int", max_tokens=3000, maxlen=60).fit(train.texts)
    options = (
        {"num_heads": 2, "num_layers": 1, "dim_feedforward": 16}
        if model == "transformer"
        else {"hidden_size": 8}
    )
    net = build(model, vocab_size=vec.vocab_size, embedding_dim=8, seed=0, **options)
    seqlab.fit(net, vec, train, epochs=1, max_steps=3, batch_size=64, out=out, seed=0,
               device="cpu", progress=False, val_split=0.1)  # fmt: skip
    return out
