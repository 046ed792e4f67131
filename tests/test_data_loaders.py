"""from_folder, from_table, the bundled snippets and BBC News."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest

from seqlab.data.loaders import bbc, from_folder, from_table, snippets


def _folder(root: Path) -> Path:
    files = {
        "pos/10.txt": "ten",
        "pos/2.txt": "two",
        "neg/1.txt": "caf\u00e9",
        "neg/notes.md": "markdown",
        "neg/.hidden": "skip me",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    (root / ".git").mkdir()
    return root


def test_data_from_folder_classes_order_and_ids(tmp_path: Path) -> None:
    ds = from_folder(_folder(tmp_path / "reviews"))
    assert ds.label_names == ["neg", "pos"]
    assert ds.ids == ["neg/1.txt", "neg/notes.md", "pos/2.txt", "pos/10.txt"]  # 2 before 10
    assert ds.texts == ["caf\u00e9", "markdown", "two", "ten"]
    assert ds.labels.tolist() == [0, 0, 1, 1]
    assert ds.name == "reviews"

    only_txt = from_folder(tmp_path / "reviews", suffixes=[".txt"])
    assert only_txt.ids == ["neg/1.txt", "pos/2.txt", "pos/10.txt"]

    # label_names fixes the order of the classes
    flipped = from_folder(tmp_path / "reviews", label_names=["pos", "neg"], suffixes=[".txt"])
    assert flipped.labels.tolist() == [1, 0, 0]
    with pytest.raises(ValueError, match=r"no documents for \['maybe'\]"):
        from_folder(tmp_path / "reviews", label_names=["neg", "maybe"])


def test_data_from_folder_single_class_and_empty(tmp_path: Path) -> None:
    (tmp_path / "one" / "only").mkdir(parents=True)
    (tmp_path / "one" / "only" / "a.txt").write_text("a")
    ds = from_folder(tmp_path / "one")
    assert ds.label_names == ["only"] and ds.labels.tolist() == [0]

    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no documents found"):
        from_folder(tmp_path / "empty")
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "doc.txt").write_text("no class folder")
    with pytest.raises(ValueError, match="one folder per class"):
        from_folder(tmp_path / "flat")
    with pytest.raises(FileNotFoundError, match="missing"):
        from_folder(tmp_path / "missing")


def test_data_from_folder_encoding_errors_and_fallback(tmp_path: Path) -> None:
    root = tmp_path / "news"
    (root / "sport").mkdir(parents=True)
    (root / "sport" / "1.txt").write_bytes(b"a \xa315.8m signing")  # cp1252 pound sign
    with pytest.raises(ValueError, match=r"sport/1\.txt.*not valid utf-8"):
        from_folder(root)
    ds = from_folder(root, fallback_encoding="cp1252")
    assert ds.texts == ["a \u00a315.8m signing"]
    assert ds.meta["fallback_decoded"] == ["sport/1.txt"]


def _tar(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_data_from_folder_reads_an_archive_in_place(tmp_path: Path) -> None:
    folder = from_folder(_folder(tmp_path / "reviews"))
    files = {f"data/{i}": t.encode("utf-8") for i, t in zip(folder.ids, folder.texts)}
    files["README"] = b"top-level files are not documents"
    archive = from_folder(_tar(tmp_path / "reviews.tar.gz", files))
    assert archive.texts == folder.texts
    assert archive.ids == folder.ids
    assert archive.labels.tolist() == folder.labels.tolist()

    mixed = _tar(tmp_path / "mixed.tar.gz", {"a/x/1.txt": b"1", "b/c/y/2.txt": b"2"})
    with pytest.raises(ValueError, match="different depths"):
        from_folder(mixed)
    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes((tmp_path / "reviews.tar.gz").read_bytes()[:-20])
    with pytest.raises(ValueError, match="corrupt or truncated"):
        from_folder(broken)


def test_data_from_table_csv_with_quotes_and_header(tmp_path: Path) -> None:
    path = tmp_path / "reviews.csv"
    path.write_text(
        'id,review,sentiment\n1,"Great, really ""great"" film",positive\n'
        '2,"two\nlines",negative\n3,plain,positive\n',
        encoding="utf-8",
    )
    ds = from_table(path, text_column="review", label_column="sentiment")
    assert ds.texts == ['Great, really "great" film', "two\nlines", "plain"]
    assert ds.label_names == ["negative", "positive"]
    assert ds.labels.tolist() == [1, 0, 1]
    assert ds.ids == ["2", "3", "5"]  # the physical line numbers (row 2 spans two lines)
    with pytest.raises(ValueError, match=r"no column 'text'; the header has \['id', 'review'"):
        from_table(path, text_column="text", label_column="sentiment")
    with pytest.raises(ValueError, match="not in label_names"):
        from_table(path, "review", "sentiment", label_names=["positive"])


def test_data_from_table_tsv_keeps_quotes_and_numbers_sort_numerically(tmp_path: Path) -> None:
    path = tmp_path / "data.tsv.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write("10\tThe ''Conan'' of \"films\"\n2\tok\n10\tyes\n")
    ds = from_table(path, text_column=1, label_column=0, header=False)
    assert ds.texts == ["The ''Conan'' of \"films\"", "ok", "yes"]
    assert ds.label_names == ["2", "10"]  # numerically, not "10" < "2"
    assert ds.labels.tolist() == [1, 0, 1]
    with pytest.raises(ValueError, match="header=False"):
        from_table(path, text_column="text", label_column=0, header=False)


def test_data_from_table_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "data.jsonl"
    rows = [{"text": "a", "label": 1}, {"text": "b", "label": 0}, {"text": "c", "label": 2}]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n", encoding="utf-8")
    ds = from_table(path, "text", "label")
    assert ds.texts == ["a", "b", "c"]
    assert ds.label_names == ["0", "1", "2"] and ds.labels.tolist() == [1, 0, 2]

    path.write_text('{"text": "a", "label": 1}\n{"text": "b"\n', encoding="utf-8")
    with pytest.raises(ValueError, match="line 2: not valid JSON"):
        from_table(path, "text", "label")
    path.write_text('{"text": "a"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"line 1: no key 'label'"):
        from_table(path, "text", "label")


def test_data_from_table_errors(tmp_path: Path) -> None:
    odd = tmp_path / "data.xlsx"
    odd.write_text("x")
    with pytest.raises(ValueError, match="format='csv'"):
        from_table(odd, "a", "b")
    with pytest.raises(ValueError, match="format must be"):
        from_table(odd, "a", "b", format="excel")
    empty = tmp_path / "empty.csv"
    empty.write_text("text,label\n")
    with pytest.raises(ValueError, match="no data rows"):
        from_table(empty, "text", "label")
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        from_table(tmp_path / "nope.csv", "text", "label")
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"text,label\ncaf\xe9,1\n")
    with pytest.raises(ValueError, match="not valid utf-8"):
        from_table(bad, "text", "label")


def test_data_snippets_bundled_counts() -> None:
    ds = snippets()
    assert len(ds) == 10_605 - 37 == 10_568
    assert ds.label_names == ["neg", "pos"]
    assert np.bincount(ds.labels).tolist() == [5_326, 5_242]
    assert (ds.ratings != 0).all()
    assert ((ds.ratings > 0) == (ds.labels == 1)).all()
    assert ds.ids[0] == "1" and ds.ids[-1] == "10605"
    assert ds.texts[0].startswith("The Rock is destined to be the 21st Century's new ''Conan''")
    assert not any(t.endswith("\r") for t in ds.texts)


def test_data_snippets_bundled_equals_the_shared_file(shared_data: Path) -> None:
    bundled = snippets()
    shared = snippets(shared_data / "sentiment")
    assert shared.texts == bundled.texts and shared.ids == bundled.ids
    with pytest.raises(FileNotFoundError, match="bundled copy"):
        snippets(shared_data / "news")


def test_data_bbc_real_archive(shared_data: Path) -> None:
    ds = bbc(shared_data / "news")
    assert len(ds) == 2_225
    assert ds.label_names == ["business", "entertainment", "politics", "sports", "tech"]
    assert np.bincount(ds.labels).tolist() == [510, 386, 417, 511, 401]
    assert ds.ids[0] == "business/001.txt"
    assert ds.texts[0].startswith("Ad sales boost Time Warner profit\n")
    # the one file that is not UTF-8 is read as cp1252, and its pound sign survives
    assert ds.meta["fallback_decoded"] == ["sports/199.txt"]
    assert "\u00a315.8m" in ds.texts[ds.ids.index("sports/199.txt")]


def test_data_bbc_missing_is_a_clear_error(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("SEQLAB_DATA", raising=False)
    with pytest.raises(FileNotFoundError, match="--data-dir"):
        bbc()
    with pytest.raises(FileNotFoundError, match="bbc.tar.gz"):
        bbc(tmp_path)
