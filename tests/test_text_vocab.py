"""Vocabulary: reserved ids, order (frequency, then first occurrence), pruning, JSON round trip."""

from __future__ import annotations

import json

import pytest

from seqlab.text import OOV, OOV_ID, PAD, PAD_ID, Vocabulary

CORPUS = [["the", "cat", "sat"], ["the", "dog", "sat", "on", "the", "mat"], ["dog"]]


def test_text_vocab_reserved_ids_and_order():
    v = Vocabulary.fit(CORPUS)
    # the x3; sat x2 and dog x2 (sat seen first); cat, on, mat x1 in order of appearance.
    assert v.itos == [PAD, OOV, "the", "sat", "dog", "cat", "on", "mat"]
    assert (PAD_ID, OOV_ID) == (0, 1)
    assert v.stoi["the"] == 2 and v.stoi[""] == 0 and v.stoi["[UNK]"] == 1
    assert len(v) == 8


def test_text_vocab_order_equals_keras_tokenizer():
    # Keras Tokenizer.word_index: stable sort of insertion-ordered counts, ids from 1.
    from collections import Counter

    counts = Counter(t for doc in CORPUS for t in doc)
    keras_order = [w for w, _ in sorted(counts.items(), key=lambda wc: wc[1], reverse=True)]
    assert Vocabulary.fit(CORPUS).itos[2:] == keras_order


def test_text_vocab_documents_are_tokenized():
    v = Vocabulary.fit(["The cat sat.", "The DOG sat on the mat!", "dog"])
    assert v.itos == Vocabulary.fit(CORPUS).itos


def test_text_vocab_encode_decode():
    v = Vocabulary.fit(CORPUS)
    assert v.encode(["the", "bird", "mat"]) == [2, 1, 7]
    assert v.decode([0, 2, 1, 7, 0]) == ["the", OOV, "mat"]
    assert v.decode([0, 2], skip_padding=False) == [PAD, "the"]
    with pytest.raises(ValueError, match="out of range"):
        v.decode([99])
    with pytest.raises(TypeError, match="single str"):
        v.encode("the cat")


def test_text_vocab_max_tokens_counts_pad_and_oov():
    v = Vocabulary.fit(CORPUS, max_tokens=5)
    assert v.itos == [PAD, OOV, "the", "sat", "dog"]
    with pytest.raises(ValueError, match="max_tokens must be None or an int >= 3.*got 2"):
        Vocabulary.fit(CORPUS, max_tokens=2)


def test_text_vocab_min_count():
    assert Vocabulary.fit(CORPUS, min_count=2).itos[2:] == ["the", "sat", "dog"]
    with pytest.raises(ValueError) as err:
        Vocabulary.fit(CORPUS, min_count=10)
    msg = str(err.value)
    assert msg.startswith("After pruning, no terms remain")
    assert "min_count=10" in msg and "Try a lower min_count" in msg and "3 documents" in msg


def test_text_vocab_str_corpus_refused():
    with pytest.raises(TypeError, match="single str"):
        Vocabulary.fit("the cat sat")


def test_text_vocab_duplicates_refused():
    with pytest.raises(ValueError, match="'a' appears twice"):
        Vocabulary(["a", "b", "a"])
    with pytest.raises(ValueError, match="'\\[UNK\\]' appears twice"):
        Vocabulary(["[UNK]"])


def test_text_vocab_save_load_round_trip(tmp_path):
    v = Vocabulary.fit(CORPUS, max_tokens=6)
    path = tmp_path / "sub" / "vocab.json"
    v.save(path)
    assert json.loads(path.read_text())["itos"] == v.itos
    w = Vocabulary.load(path)
    assert w == v and w.stoi == v.stoi
    assert w.encode(["dog", "zebra"]) == v.encode(["dog", "zebra"])
    assert not list(tmp_path.glob("sub/*.tmp"))  # atomic write leaves no temporary file


def test_text_vocab_load_rejects_other_json(tmp_path):
    path = tmp_path / "x.json"
    path.write_text(json.dumps({"itos": ["a", "b"]}))
    with pytest.raises(ValueError, match="not a seqlab vocabulary"):
        Vocabulary.load(path)
    with pytest.raises(FileNotFoundError):
        Vocabulary.load(tmp_path / "missing.json")
