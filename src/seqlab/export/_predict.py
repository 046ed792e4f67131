#!/usr/bin/env python3
"""Run a model exported by ``seqlab export``, without seqlab: numpy and onnxruntime (or torch,
for a TorchScript export) only. It reads the files beside it: the model, vocabulary.json and
preprocessing.json, and turns texts into the model's inputs exactly as seqlab did.

    python predict.py "a wonderful, moving film" "a dull mess"   # label, probability, text
    python predict.py --json --file reviews.txt                  # every class's probability
    python predict.py "the will to" --top 5 --length 40          # a language model: the 5
                                                                 # likeliest next tokens, and
                                                                 # 40 tokens of greedy text

A language model exported as one step carries its state from token to token; one exported
as the whole sequence (a transformer: preprocessing.json's "graph" is "sequence") re-reads
the whole text for every new token, exact but with work that grows with the text.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np

# seqlab export writes the source of seqlab's own n-gram function in place of this import,
# so that predict.py needs no seqlab and splits n-grams with the very code seqlab trains with.
from seqlab.text.tokenize import ngrams_of_orders  # pasted by seqlab export

HERE = Path(__file__).resolve().parent


class Exported:
    """The exported model and its preprocessing, read from ``folder``."""

    def __init__(self, folder: Path = HERE) -> None:
        self.settings = json.loads((folder / "preprocessing.json").read_text(encoding="utf-8"))
        if self.settings.get("format") != "seqlab.export" or self.settings.get("version") != 1:
            raise ValueError(
                f"{folder / 'preprocessing.json'} is not an export this predict.py reads "
                "(format seqlab.export, version 1); use the predict.py written beside it"
            )
        self.vocabulary = json.loads((folder / "vocabulary.json").read_text(encoding="utf-8"))
        self.stoi = {token: i for i, token in enumerate(self.vocabulary)}
        self.names = self.settings["inputs"]
        file = str(folder / self.settings["model_file"])
        if self.settings["runtime"] == "onnx":
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.log_severity_level = 3
            session = ort.InferenceSession(file, options, providers=["CPUExecutionProvider"])
            self._run = lambda inputs: session.run(None, dict(zip(self.names, inputs)))
        else:
            import warnings

            import torch

            with warnings.catch_warnings():  # torch 2.13 deprecates TorchScript
                warnings.simplefilter("ignore", DeprecationWarning)
                module = torch.jit.load(file).eval()

            def run(inputs):
                with torch.no_grad():
                    out = module(*(torch.from_numpy(x) for x in inputs))
                return [t.numpy() for t in (out if isinstance(out, tuple) else (out,))]

            self._run = run
        if self.settings["task"] == "classify":
            self.tokenize = _text_tokenizer(self.settings["text"])

    # ---------------------------------------------------------------- classifiers
    def predict_proba(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """Class probabilities (len(texts), classes), columns in the order of the labels."""
        rows = []
        for start in range(0, len(texts), batch_size):
            batch = [self.tokenize(t) for t in texts[start : start + batch_size]]
            if self.settings["input_kind"] == "bag":
                inputs = self._bags(batch)
            else:
                inputs = self._sequences(batch)
            rows.append(self._run(inputs)[0])
        classes = len(self.settings["labels"])
        return np.concatenate(rows) if rows else np.zeros((0, classes), np.float32)

    def _ids(self, tokens: list[str]) -> list[int]:
        return [self.stoi.get(t, 1) for t in tokens]  # 1: out of vocabulary

    def _sequences(self, batch: list[list[str]]) -> list[np.ndarray]:
        s = self.settings["sequence"]
        maxlen, fixed = s["maxlen"], s["fixed_length"]
        seqs = []
        for tokens in batch:
            ids = self._ids(tokens)
            if maxlen is not None and len(ids) > maxlen:  # Keras's pad_sequences cut
                ids = ids[-maxlen:] if s["truncating"] == "pre" else ids[:maxlen]
            if fixed is not None:  # the model reads the padding as input
                pad = [0] * (fixed - len(ids))
                ids = pad + ids if s["padding"] == "pre" else ids + pad
            elif s["strip_zeros"]:
                ids = [i for i in ids if i != 0]
            seqs.append(ids)
        lengths = np.array([len(ids) for ids in seqs], dtype=np.int64)
        tokens = np.zeros((len(seqs), max(1, int(lengths.max()))), dtype=np.int64)
        for row, ids in enumerate(seqs):
            tokens[row, : len(ids)] = ids
        return [tokens, lengths]

    def _bags(self, batch: list[list[str]]) -> list[np.ndarray]:
        b = self.settings["bag"]
        low, shift = (1, 1) if b["keras_layout"] else (2, 0)
        rows, cols, counts, sizes = [], [], [], []
        for r, tokens in enumerate(batch):
            column_counts: dict[int, int] = {}
            for i in self._ids(tokens):
                if i >= low:  # default layout: OOV (id 1) is not counted
                    column_counts[i - shift] = column_counts.get(i - shift, 0) + 1
            for c in sorted(column_counts):
                rows.append(r)
                cols.append(c)
                counts.append(column_counts[c])
            sizes.append(len(tokens))
        row = np.array(rows, dtype=np.int64)
        data = np.array(counts, dtype=np.float64)
        mode = b["mode"]
        if mode == "multi_hot":
            data = np.ones_like(data)
        elif mode == "freq":  # per token of the text, out-of-vocabulary ones included
            data = data / np.array(sizes, dtype=np.int64)[row]
        elif mode == "tf_idf":
            data = data * np.array(b["idf"], dtype=np.float64)[np.array(cols, dtype=np.int64)]
            if b["l2_normalize"]:
                norms = np.sqrt(np.bincount(row, weights=data * data, minlength=len(batch)))
                data = data / norms[row]
        offsets = np.searchsorted(row, np.arange(len(batch))).astype(np.int64)
        weights = data.astype(b["dtype"]).astype(np.float32)
        return [np.array(cols, dtype=np.int64), offsets, weights]

    # ---------------------------------------------------------------- language models
    def encode(self, text: str) -> list[int]:
        """The token ids of ``text`` for a language model."""
        s = self.settings
        if s["lower"]:
            text = text.lower()
        if s["level"] == "char":
            unknown = sorted(set(text) - self.stoi.keys())
            if unknown:
                raise ValueError(f"characters not in the vocabulary: {''.join(unknown)!r}")
            return [self.stoi[c] for c in text]
        return [self.stoi.get(t, s["unknown"]) for t in re.findall(s["word_pattern"], text)]

    def step(self, ids: np.ndarray, state: list[np.ndarray]) -> tuple[np.ndarray, list]:
        """One step of a step graph: next-token logits (B, V) and the new state."""
        out = self._run([ids.astype(np.int64), *state])
        return out[0], out[1:]

    def zero_state(self, batch: int) -> list[np.ndarray]:
        """The state before the first token, for ``batch`` sequences."""
        return [
            np.zeros([batch if n is None else n for n in spec["shape"]], dtype=np.float32)
            for spec in self.settings["state"]
        ]

    def sequence_logits(self, ids: list[int]) -> np.ndarray:
        """A sequence graph's next-token logits (T, V) at every position of ``ids``."""
        return self._run([np.array([ids], dtype=np.int64)])[0][0]

    def next_token_probabilities(self, text: str) -> tuple[np.ndarray, object]:
        """The probability of every next token after ``text``, and what continues from it:
        the state after it (a step graph) or its ids (a sequence graph)."""
        ids = self.encode(text)
        if not ids:
            raise ValueError(f"{text!r} has no token the model knows")
        if self.settings.get("graph") == "sequence":
            return _softmax(self.sequence_logits(ids)[-1]), ids
        state = self.zero_state(1)
        for i in ids:
            logits, state = self.step(np.array([i]), state)
        return _softmax(logits[0]), state

    def _advance(self, token: int, carried: object) -> tuple[np.ndarray, object]:
        """The next-token logits (V) after ``token``, and what continues from there."""
        if self.settings.get("graph") == "sequence":  # no cache: the whole text again
            ids = [*carried, token]
            return self.sequence_logits(ids)[-1], ids
        logits, state = self.step(np.array([token]), carried)
        return logits[0], state

    def greedy(self, text: str, length: int) -> str:
        """``length`` tokens after ``text``, each the likeliest one (banned ids excepted)."""
        probs, carried = self.next_token_probabilities(text)
        previous = self.encode(text)[-1]
        pieces = []
        for _ in range(length):
            probs[self.settings["banned_ids"]] = -1.0
            token = int(np.argmax(probs))
            pieces.append(self._piece(previous, token))
            if len(pieces) == length:
                break
            logits, carried = self._advance(token, carried)
            probs, previous = _softmax(logits), token
        return "".join(pieces)

    def _piece(self, previous: int, token: int) -> str:
        text = self.vocabulary[token]
        if self.settings["level"] == "char":
            return text
        before = self.vocabulary[previous]
        s = self.settings
        glued = text in s["no_space_before"] or before in s["no_space_after"]
        return text if glued else " " + text


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits.astype(np.float64) - logits.max()
    e = np.exp(z)
    return e / e.sum()


def _text_tokenizer(t: dict):
    """``text -> tokens`` (n-grams included) as seqlab's TextVectorizer makes them."""
    html = re.compile(t["html_break"], re.IGNORECASE)
    strip = (lambda text: html.sub(" ", text)) if t["strip_html"] else (lambda text: text)
    standardize = t["standardize"]
    if t["compat"] == "keras":  # Keras 3 TextVectorization: ASCII lower-casing only
        upper, lower = "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz"
        punct = t["keras_punctuation"]
        table = {
            "keras": str.maketrans(upper, lower, punct),
            "lower_and_strip_punctuation": str.maketrans(upper, lower, punct),
            "lower": str.maketrans(upper, lower),
            "strip_punctuation": str.maketrans("", "", punct),
        }.get(standardize)
        split = re.compile(t["keras_split"]).findall

        def words(text: str) -> list[str]:
            text = strip(text)
            return split(text.translate(table) if table is not None else text)

    else:
        filters = str.maketrans(dict.fromkeys(t["keras_filters"], " "))
        pattern = re.compile(t["token_pattern"]) if standardize == "regex" else None

        def words(text: str) -> list[str]:
            text = strip(text)
            if standardize == "keras":
                return text.lower().translate(filters).split()
            if standardize == "regex":
                return pattern.findall(text.lower())
            return text.lower().split() if standardize == "lower" else text.split()

    stop = set(t["stop_words"])
    orders, joiner = t["orders"], t["joiner"]

    def tokens(text: str) -> list[str]:
        if t["level"] == "char":
            if standardize in ("keras", "regex"):
                units = list(" ".join(words(text)))
            else:
                text = strip(text)
                units = list(text.lower() if standardize == "lower" else text)
        else:
            units = [w for w in words(text) if w not in stop]
        return ngrams_of_orders(units, orders, joiner)

    return tokens


def main(argv: list[str] | None = None) -> int:
    """The command line (see the module docstring); the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("texts", nargs="*", help="Texts (or prompts, for a language model).")
    parser.add_argument("--file", help="A file with one text per line ('-': standard input).")
    parser.add_argument("--json", action="store_true", help="One JSON object per text.")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--top", type=int, default=5, help="Language model: next tokens shown.")
    parser.add_argument("--length", type=int, default=0, help="Language model: greedy tokens.")
    args = parser.parse_args(argv)
    texts = list(args.texts)
    if args.file:
        if args.file == "-":
            lines = sys.stdin.read().splitlines()
        else:
            lines = Path(args.file).read_text(encoding="utf-8").splitlines()
        texts += [line for line in lines if line.strip()]
    if not texts:
        parser.error("give texts, or --file FILE")
    model = Exported()
    if model.settings["task"] == "classify":
        labels = model.settings["labels"]
        for text, p in zip(texts, model.predict_proba(texts, args.batch_size)):
            k = int(p.argmax())
            if args.json:
                probs = {label: float(v) for label, v in zip(labels, p)}
                print(json.dumps({"text": text, "label": labels[k], "probabilities": probs}))
            else:
                print(f"{labels[k]}\t{p[k]:.4f}\t{text}")
        return 0
    for text in texts:
        try:
            probs, _ = model.next_token_probabilities(text)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        top = np.argsort(-probs, kind="stable")[: args.top]
        record = {
            "text": text,
            "next": [{"token": model.vocabulary[i], "probability": float(probs[i])} for i in top],
        }
        if args.length > 0:
            record["continuation"] = model.greedy(text, args.length)
        if args.json:
            print(json.dumps(record, ensure_ascii=False))
            continue
        print(text)
        for item in record["next"]:
            print(f"  {item['probability']:.4f}  {item['token']!r}")
        if "continuation" in record:
            print("  -> " + text + record["continuation"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
