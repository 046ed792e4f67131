"""IMDB loading from the aclImdb layout: archive and folder, cache, errors, the real data."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import time
from pathlib import Path

import numpy as np
import pytest

import seqlab.data.imdb as imdb_module
from seqlab.data.imdb import imdb, imdb_path

# (split folder, class folder, id, rating) -> text
REVIEWS: dict[tuple[str, str, int, int], str] = {
    ("train", "neg", 10, 2): "Dreadful.<br /><br />Avoid it.",
    ("train", "neg", 2, 1): "Two hours I will never get back.",
    ("train", "pos", 0, 9): "Am\u00e9lie is a na\u00efve delight \u2014 10/10!",
    ("train", "pos", 1, 7): "Good, not great.",
    ("train", "unsup", 5, 0): "Unlabelled review five.",
    ("train", "unsup", 3, 0): "Unlabelled review three.",
    ("test", "neg", 0, 4): "Meh.",
    ("test", "pos", 7, 10): "A masterpiece.",
    ("test", "pos", 11, 8): "Loved it.",
}
EXTRA = {  # files of the official layout that are not reviews
    "aclImdb/README": b"Large Movie Review Dataset v1.0\n",
    "aclImdb/imdb.vocab": b"the\nand\n",
    "aclImdb/train/urls_pos.txt": b"http://www.imdb.com/title/tt0453418/usercomments\n",
}


def _member(key: tuple[str, str, int, int]) -> str:
    split, cls, rid, rating = key
    return f"aclImdb/{split}/{cls}/{rid}_{rating}.txt"


def write_archive(path: Path, reviews: dict = REVIEWS, raw: dict[str, bytes] | None = None) -> Path:
    files = {_member(k): v.encode("utf-8") for k, v in reviews.items()}
    files.update(EXTRA)
    files.update(raw or {})
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def write_folder(root: Path, reviews: dict = REVIEWS) -> Path:
    for key, text in reviews.items():
        path = root / _member(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
    return root / "aclImdb"


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEQLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("SEQLAB_DATA", raising=False)


def _cache_entries(tmp_path: Path) -> list[str]:
    root = tmp_path / "cache" / "imdb"
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


def test_data_imdb_archive_splits_labels_ratings_ids(tmp_path: Path) -> None:
    archive = write_archive(tmp_path / "aclImdb_v1.tar.gz")
    train, test, unsup = imdb(("train", "test", "unsup"), data_dir=archive)

    # negatives first, then positives, each by numeric id (2 before 10)
    assert train.ids == ["train/neg/2_1", "train/neg/10_2", "train/pos/0_9", "train/pos/1_7"]
    assert train.texts == [
        "Two hours I will never get back.",
        "Dreadful.<br /><br />Avoid it.",
        "Am\u00e9lie is a na\u00efve delight \u2014 10/10!",
        "Good, not great.",
    ]
    assert train.labels.tolist() == [0, 0, 1, 1]
    assert train.ratings.tolist() == [1, 2, 9, 7]
    assert train.label_names == ["neg", "pos"]
    assert test.ids == ["test/neg/0_4", "test/pos/7_10", "test/pos/11_8"]
    assert test.labels.tolist() == [0, 1, 1]
    assert test.ratings.tolist() == [4, 10, 8]

    # the unlabelled split: no classes, every label -1, every rating 0
    assert unsup.ids == ["train/unsup/3_0", "train/unsup/5_0"]
    assert unsup.texts == ["Unlabelled review three.", "Unlabelled review five."]
    assert unsup.label_names == []
    assert unsup.labels.tolist() == [-1, -1]
    assert unsup.ratings.tolist() == [0, 0]
    assert unsup.meta["labelled"] is False


def test_data_imdb_default_is_train_and_test_and_single_split(tmp_path: Path) -> None:
    archive = write_archive(tmp_path / "aclImdb_v1.tar.gz")
    train, test = imdb(data_dir=archive)
    assert (len(train), len(test)) == (4, 3)
    only = imdb("test", data_dir=archive)
    assert only.texts == test.texts
    assert only.name == "imdb-test"


def test_data_imdb_folder_gives_the_same_as_the_archive(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    archive = write_archive(tmp_path / "a" / "aclImdb_v1.tar.gz")
    folder = write_folder(tmp_path / "b")
    from_archive = imdb(("train", "test", "unsup"), data_dir=archive)
    from_folder = imdb(("train", "test", "unsup"), data_dir=folder)
    for a, b in zip(from_archive, from_folder):
        assert a.texts == b.texts
        assert a.ids == b.ids
        assert a.labels.tolist() == b.labels.tolist()
        assert a.ratings.tolist() == b.ratings.tolist()
    # the folder that holds aclImdb/ works too
    assert imdb("train", data_dir=tmp_path / "b").texts == from_folder[0].texts


def test_data_imdb_second_load_reads_the_cache(tmp_path: Path, monkeypatch) -> None:
    archive = write_archive(tmp_path / "aclImdb_v1.tar.gz")
    first = imdb("train", data_dir=tmp_path)
    (entry,) = _cache_entries(tmp_path)
    cache = tmp_path / "cache" / "imdb" / entry
    assert {"meta.json", "train.bin", "train.offsets.npy", "unsup.labels.npy"} <= {
        p.name for p in cache.iterdir()
    }
    for f in cache.glob("*.npy"):  # plain arrays, no pickle
        np.load(f, allow_pickle=False)
    assert first.meta["sha256"] == hashlib.sha256(archive.read_bytes()).hexdigest()
    assert first.meta["sha256_known"] is False  # a fixture, not the real archive

    def no_parse(*args):
        raise AssertionError("the archive was parsed again")

    monkeypatch.setattr(imdb_module, "_parse", no_parse)
    again = imdb("train", data_dir=tmp_path)
    assert again.texts == first.texts and again.ids == first.ids


def test_data_imdb_cache_follows_a_changed_archive(tmp_path: Path) -> None:
    archive = write_archive(tmp_path / "aclImdb_v1.tar.gz")
    assert imdb("test", data_dir=archive).texts[0] == "Meh."
    changed = dict(REVIEWS)
    changed[("test", "neg", 0, 4)] = "Changed text, longer than before."
    write_archive(archive, changed)
    os.utime(archive, ns=(time.time_ns(), time.time_ns() + 10**9))
    assert imdb("test", data_dir=archive).texts[0] == "Changed text, longer than before."


def test_data_imdb_corrupt_archive_is_a_clear_error_and_leaves_no_cache(tmp_path: Path) -> None:
    archive = write_archive(tmp_path / "aclImdb_v1.tar.gz")
    raw = bytearray(archive.read_bytes())
    middle = len(raw) // 2
    raw[middle : middle + 64] = bytes(64)  # zero a stretch of the compressed stream
    archive.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="corrupt or truncated"):
        imdb("train", data_dir=archive)
    assert _cache_entries(tmp_path) == []

    archive.write_bytes(b"this is not a gzip file at all, just text\n" * 50)
    with pytest.raises(ValueError, match="corrupt or truncated"):
        imdb("train", data_dir=archive)
    assert _cache_entries(tmp_path) == []


def test_data_imdb_truncated_archive_is_a_clear_error(tmp_path: Path) -> None:
    archive = write_archive(tmp_path / "aclImdb_v1.tar.gz")
    full = archive.read_bytes()
    for cut in (len(full) // 4, len(full) // 2, len(full) - 4):  # e.g. an interrupted copy
        archive.write_bytes(full[:cut])
        with pytest.raises(ValueError, match="corrupt or truncated") as info:
            imdb("train", data_dir=archive)
        assert str(archive) in str(info.value)
        assert _cache_entries(tmp_path) == []


def test_data_imdb_bad_utf8_names_the_member(tmp_path: Path) -> None:
    archive = write_archive(
        tmp_path / "aclImdb_v1.tar.gz", raw={"aclImdb/train/pos/3_8.txt": b"caf\xe9 au lait"}
    )
    with pytest.raises(ValueError, match=r"aclImdb/train/pos/3_8\.txt.*not valid UTF-8"):
        imdb("train", data_dir=archive)
    assert _cache_entries(tmp_path) == []

    folder = write_folder(tmp_path / "f")
    (folder / "test" / "neg" / "9_3.txt").write_bytes(b"\xff\xfe bad")
    with pytest.raises(ValueError, match=r"9_3\.txt.*not valid UTF-8"):
        imdb("test", data_dir=folder)


def test_data_imdb_archive_without_reviews_is_an_error(tmp_path: Path) -> None:
    archive = write_archive(tmp_path / "aclImdb_v1.tar.gz", reviews={})
    with pytest.raises(ValueError, match="no IMDB reviews found"):
        imdb("train", data_dir=archive)


def test_data_imdb_single_class_and_missing_split(tmp_path: Path) -> None:
    only_pos = {k: v for k, v in REVIEWS.items() if k[0] == "train" and k[1] == "pos"}
    archive = write_archive(tmp_path / "aclImdb_v1.tar.gz", reviews=only_pos)
    train = imdb("train", data_dir=archive)
    assert train.labels.tolist() == [1, 1]
    assert train.label_names == ["neg", "pos"]  # the classes do not depend on what is present
    with pytest.raises(ValueError, match="split 'test' is empty"):
        imdb("test", data_dir=archive)


def test_data_imdb_bad_split_is_refused(tmp_path: Path) -> None:
    archive = write_archive(tmp_path / "aclImdb_v1.tar.gz")
    for bad in ("validation", ("train", "dev"), (), 3):
        with pytest.raises(
            ValueError, match=r"split must be one of 'train', 'test', 'unsup' or a tuple"
        ):
            imdb(bad, data_dir=archive)


def test_data_imdb_missing_data_names_the_path_and_the_fixes(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError, match="nowhere") as info:
        imdb("train", data_dir=missing)
    assert "--data-dir" in str(info.value)

    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError) as info:
        imdb("train", data_dir=empty)
    assert str(empty / "aclImdb_v1.tar.gz") in str(info.value)

    with pytest.raises(FileNotFoundError) as info:  # nothing given, nothing in the cache
        imdb("train")
    message = str(info.value)
    assert "SEQLAB_DATA" in message and "--data-dir" in message and "download=True" in message


def test_data_imdb_lookup_order(tmp_path: Path, monkeypatch) -> None:
    shared = tmp_path / "shared"
    (shared / "imdb").mkdir(parents=True)
    archive = write_archive(shared / "imdb" / "aclImdb_v1.tar.gz")
    # $SEQLAB_DATA, with the archive under imdb/
    monkeypatch.setenv("SEQLAB_DATA", str(shared))
    assert imdb_path() == archive
    assert len(imdb("train")) == 4
    # an explicit data_dir wins over $SEQLAB_DATA
    folder = write_folder(tmp_path / "mine")
    assert imdb_path(tmp_path / "mine") == folder
    # without $SEQLAB_DATA, the download folder in the cache is used
    monkeypatch.delenv("SEQLAB_DATA")
    downloads = tmp_path / "cache" / "downloads"
    downloads.mkdir(parents=True)
    cached = write_archive(downloads / "aclImdb_v1.tar.gz")
    assert imdb_path() == cached


# --------------------------------------------------------------------------- real data


@pytest.mark.slow
def test_data_imdb_real_counts_and_cached_reload_skips_the_archive(
    shared_data: Path, real_imdb_cache: Path, monkeypatch
) -> None:
    monkeypatch.setenv("SEQLAB_CACHE", str(real_imdb_cache))
    archive = shared_data / "imdb" / "aclImdb_v1.tar.gz"
    train, test, unsup = imdb(("train", "test", "unsup"), data_dir=archive, progress=False)
    assert (len(train), len(test), len(unsup)) == (25_000, 25_000, 50_000)
    assert np.bincount(train.labels).tolist() == [12_500, 12_500]
    assert np.bincount(test.labels).tolist() == [12_500, 12_500]
    assert set(unsup.labels.tolist()) == {-1}
    assert train.meta["sha256_known"] is True  # the shared copy is in the known-digest table
    assert set(train.ratings[train.labels == 0].tolist()) == {1, 2, 3, 4}
    assert set(train.ratings[train.labels == 1].tolist()) == {7, 8, 9, 10}
    assert train.ids[0] == "train/neg/0_3"

    # What makes a reload take seconds instead of the parse's tens of seconds: it reads the
    # parsed copy and never opens the archive (work, not wall time, so no machine is too slow).
    def no_parse(*args):
        raise AssertionError("the archive was parsed again")

    monkeypatch.setattr(imdb_module, "_parse", no_parse)
    again = imdb(("train", "test", "unsup"), data_dir=archive, progress=False)
    assert again[0].texts == train.texts and again[2].ids == unsup.ids
    assert again[1].texts == test.texts and again[0].meta["cache"] == train.meta["cache"]
