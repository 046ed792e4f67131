"""A word-level language model's run folder as the start of a classifier (ULMFiT):
``train_classifier(..., encoder=RUN)``, ``seqlab classify train --encoder RUN``.

The language model's folder is read here from its files (``config.json``, ``vocab.json``,
``model.safetensors``, ``metrics.json``), not through :mod:`seqlab.lm` (which sits above
training). What the classifier takes from it:

* the **model kind** (``lm-lstm`` -> ``lstm``, ``lm-gru`` -> ``gru``) and its sizes:
  ``embedding_dim``, ``hidden_size``, ``num_layers``;
* the **tokens and ids**: a :class:`~seqlab.text.TextVectorizer` with ``standardize="regex"``
  and the language model's token pattern (:data:`seqlab.text.tokenize.LM_WORD_PATTERN`:
  lower-cased words, punctuation and line breaks as tokens; ``<br />`` removed first) and
  the language model's vocabulary, given with ``set_vocabulary`` (id ``i`` is the same token
  in both). It is saved in the classifier's ``vocab.json`` like any vectorizer, so the run
  folder loads, predicts, explains, serves and exports without the language model's folder;
* the **weights**: the embedding table, and each layer ``k`` of the language model's
  ``nn.LSTM`` / ``nn.GRU`` (``weight_ih_l{k}``, ``weight_hh_l{k}``, ``bias_ih_l{k}``,
  ``bias_hh_l{k}``) into the classifier's one-layer module ``layers[k]`` (``..._l0``). The
  decoder (the softmax over the vocabulary) is left behind; the pooling and head are new.

Settings a classifier from an encoder takes unless told otherwise are ULMFiT's fine-tuning
practice (:data:`ENCODER_DEFAULTS`). A transformer language model, a character-level one, a
one-hot input, or a model trained on cased text cannot start a classifier here: each is
refused with the reason.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from seqlab._utils import PathLike, read_json, read_safetensors
from seqlab.runs import read_config
from seqlab.text.tokenize import LM_WORD_PATTERN

if TYPE_CHECKING:
    from seqlab.training.classify import ClassifyConfig

# The language model's registry name -> the classifier it starts.
ENCODER_MODELS = {"lm-lstm": "lstm", "lm-gru": "gru"}
# ULMFiT's fine-tuning (Howard & Ruder 2018), for the settings left at None: slanted
# triangular rates, each layer group 2.6 times slower than the one above it, the head alone
# in the first epoch and one more group unfrozen per epoch (embedding, 2 layers, head: every
# group trains from epoch 4 on), [last, max, mean] pooling, dropout on the layers' inputs
# and on the pooled vector. lr 4e-3 with Adam: the top of the slanted schedule for the head.
ENCODER_DEFAULTS: dict[str, Any] = {
    "schedule": "slanted",
    "layer_lr_decay": 2.6,
    "gradual_unfreezing": True,
    "pooling": "concat",
    "dropout": 0.3,
    "lr": 4e-3,
    "epochs": 5,
}
# The vectorizer that reads the language model's tokens (set_vocabulary gives its ids).
TOKENIZER = {"standardize": "regex", "token_pattern": LM_WORD_PATTERN, "strip_html": True}
# ClassifyConfig fields that would change the language model's tokens or vocabulary.
_VOCABULARY_FIELDS = {
    "max_tokens": "auto",
    "min_count": 1,
    "stop_words": None,
    "ngram_range": (1, 1),
    "vectorizer_options": None,
}


@dataclass
class Encoder:
    """What a language model's run folder gives a classifier (see the module docstring)."""

    path: Path
    name: str  # its registry name, e.g. "lm-lstm"
    model_config: dict[str, Any]
    train_config: dict[str, Any]
    itos: list[str]
    tensors: dict[str, torch.Tensor]
    metrics: dict[str, Any]

    @property
    def model(self) -> str:
        """The classifier it starts: ``"lstm"`` or ``"gru"``."""
        return ENCODER_MODELS[self.name]

    def record(self) -> dict[str, Any]:
        """What the classifier's ``config.json`` says about it (``train.encoder``)."""
        c = self.model_config
        keep = ("steps", "epochs", "tokens", "train_time_s", "tokens_per_s", "val")
        return {
            "path": str(self.path),
            "model": self.name,
            "classifier": self.model,
            "vocab_size": len(self.itos),
            "embedding_dim": c["embedding_dim"],
            "hidden_size": c["hidden_size"],
            "num_layers": c["num_layers"],
            "corpus": self.train_config.get("corpus"),
            "lm_metrics": {k: self.metrics[k] for k in keep if k in self.metrics},
        }


def encoder_model(path: PathLike) -> str:
    """The classifier that the language model in ``path`` starts (reads config.json only).

    >>> encoder_model("runs/imdb-lm")  # doctest: +SKIP
    'lstm'
    """
    path = Path(path).expanduser()
    config = _lm_config(path)
    return ENCODER_MODELS[_check_model(path, config)]


def read_encoder(path: PathLike) -> Encoder:
    """The language model's run folder ``path``, checked that it can start a classifier.

    >>> read_encoder("runs/imdb-lm").model  # doctest: +SKIP
    'lstm'
    """
    path = Path(path).expanduser()
    config = _lm_config(path)
    name = _check_model(path, config)
    vocab = read_json(path / "vocab.json")
    if not isinstance(vocab, dict) or not vocab.get("lower", False):
        raise ValueError(
            f"encoder={str(path)!r} was trained on text as cased (lower=False), but a classifier "
            "started from it reads lower-cased text; train the language model with lower=True "
            "(--lower)"
        )
    itos = vocab.get("itos")
    if not isinstance(itos, list) or itos[:2] != ["", "[UNK]"]:
        raise ValueError(f"{path / 'vocab.json'} holds no word vocabulary; the folder is damaged")
    metrics_file = path / "metrics.json"
    metrics = read_json(metrics_file) if metrics_file.is_file() else {}
    return Encoder(
        path=path.resolve(),
        name=name,
        model_config=dict(config["model"]["config"]),
        train_config=dict(config.get("train") or {}),
        itos=list(itos),
        tensors=read_safetensors(path / "model.safetensors"),
        metrics=metrics if isinstance(metrics, dict) else {},
    )


def _lm_config(path: Path) -> dict[str, Any]:
    config = read_config(path)
    if config.get("task") != "lm":
        raise ValueError(
            f"encoder={str(path)!r} holds a {config.get('task')!r} run, not a language model; "
            "give the --out folder of `seqlab lm train --level word`"
        )
    return config


def _check_model(path: Path, config: dict[str, Any]) -> str:
    """The registry name of a language model that can start a classifier, or a ValueError."""
    name = config.get("model", {}).get("name")
    level = config.get("vocab_level") or (config.get("train") or {}).get("level")
    if level != "word":
        raise ValueError(
            f"encoder={str(path)!r} is a {level}-level language model, but a classifier reads "
            "words; train the language model with level='word' (--level word)"
        )
    if name == "lm-transformer":
        raise ValueError(
            f"encoder={str(path)!r} is a transformer language model; an encoder starts a "
            "recurrent classifier (lstm, gru), so train the language model with model='lstm' "
            "(--model lstm) or 'gru'"
        )
    if name not in ENCODER_MODELS:
        raise ValueError(
            f"encoder={str(path)!r} is a {name!r} model; an encoder is a word-level lm-lstm or "
            "lm-gru run (seqlab lm train --level word)"
        )
    if config["model"]["config"].get("input_encoding", "embedding") != "embedding":
        raise ValueError(
            f"encoder={str(path)!r} reads one-hot vectors (input_encoding='one_hot'), so it has "
            "no embedding table to give a classifier; train it with input_encoding='embedding'"
        )
    return name


def with_encoder(cfg: ClassifyConfig, enc: Encoder) -> ClassifyConfig:
    """``cfg`` with the model kind and sizes of the encoder and ULMFiT's settings
    (:data:`ENCODER_DEFAULTS`) where ``cfg`` leaves them at None; a ValueError for a setting
    that contradicts the encoder (another model, other sizes, a bidirectional or residual
    stack, anything that would change its tokens or vocabulary)."""
    where = f"the encoder {str(enc.path)!r} ({enc.name})"
    if cfg.model is not None and cfg.model != enc.model:
        raise ValueError(
            f"model={cfg.model!r} contradicts {where}, which starts a {enc.model!r} classifier; "
            f"drop model= (--model) or give model={enc.model!r}"
        )
    sizes = {k: enc.model_config[k] for k in ("embedding_dim", "hidden_size", "num_layers")}
    for name, value in sizes.items():
        given = getattr(cfg, name)
        if given is not None and given != value:
            raise ValueError(
                f"{name}={given} contradicts {where}, whose {name} is {value}; drop {name} "
                "(it comes from the encoder)"
            )
    for name in ("bidirectional", "residual"):
        if getattr(cfg, name):
            raise ValueError(
                f"{name}=True does not fit {where}, a one-way stack without skips; drop {name}"
            )
    for name, default in _VOCABULARY_FIELDS.items():
        value = getattr(cfg, name)
        if value != default and not (name == "ngram_range" and tuple(value) == default):
            raise ValueError(
                f"{name}={value!r} would change the tokens or vocabulary, which come from "
                f"{where}; drop {name}"
            )
    if cfg.pretrained is not None:
        raise ValueError(
            f"pretrained={str(cfg.pretrained)!r}: the embedding table comes from {where}; "
            "drop pretrained"
        )
    if cfg.stream:
        raise ValueError(
            f"stream=True is not supported with an encoder ({where}); read the data into "
            "memory (drop stream)"
        )
    given = {k: getattr(cfg, k) for k in ENCODER_DEFAULTS}
    filled = {k: ENCODER_DEFAULTS[k] if v is None else v for k, v in given.items()}
    return dataclasses.replace(cfg, model=enc.model, **sizes, **filled)


def encoder_vectorizer(enc: Encoder, vec_kwargs: dict[str, Any]) -> Any:
    """A TextVectorizer with ``vec_kwargs`` (its cut and padding), the language model's
    tokenizer and vocabulary: ids are the language model's ids."""
    from seqlab.text import TextVectorizer

    kwargs = {**vec_kwargs, **TOKENIZER, "max_tokens": None}
    return TextVectorizer(**kwargs).set_vocabulary(enc.itos)


def copy_encoder_weights(net: torch.nn.Module, enc: Encoder) -> list[str]:
    """Copy the encoder's embedding and recurrent layers into the classifier ``net`` (an
    ``lstm`` / ``gru`` :class:`~seqlab.models.rnn.RecurrentClassifier` of the same sizes);
    returns the names of the language model's tensors that were copied."""
    pairs = [("embedding.weight", net.embedding.weight)]
    for k, layer in enumerate(net.layers):
        for part in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            pairs.append((f"rnn.{part}_l{k}", getattr(layer, f"{part}_l0")))
    with torch.no_grad():
        for name, target in pairs:
            source = enc.tensors.get(name)
            if source is None or tuple(source.shape) != tuple(target.shape):
                got = "missing" if source is None else f"of shape {tuple(source.shape)}"
                raise ValueError(
                    f"{enc.path / 'model.safetensors'}: {name} is {got}, the classifier needs "
                    f"{tuple(target.shape)}; the file does not fit its config.json (damaged?)"
                )
            target.copy_(source)
    return [name for name, _ in pairs]
