"""The dataset registry, info(), train_test_split and the `seqlab data` command."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from seqlab.cli.data import data as data_cli
from seqlab.data import datasets
from seqlab.data.base import TextDataset


def test_data_registry_names_and_load() -> None:
    assert datasets.names() == ["bbc", "imdb", "nietzsche", "snippets", "tinyshakespeare"]
    assert datasets.load("nietzsche").startswith("PREFACE")
    assert len(datasets.load("snippets")) == 10_568
    with pytest.raises(ValueError, match=r"unknown dataset 'imdb2'; choose one of \['bbc'"):
        datasets.load("imdb2")
    assert datasets.describe("imdb")["kind"] == "classification"
    assert datasets.describe("tinyshakespeare")["kind"] == "corpus"


def test_data_registry_load_a_folder_path(tmp_path: Path) -> None:
    for cls in ("a", "b"):
        (tmp_path / cls).mkdir()
        (tmp_path / cls / "1.txt").write_text(f"doc {cls}")
    ds = datasets.load(str(tmp_path))
    assert ds.label_names == ["a", "b"] and ds.texts == ["doc a", "doc b"]


def test_data_dataset_stats_exact() -> None:
    ds = TextDataset(
        ["one", "two words", "Hello, world! again", "a b c d"],
        [0, 1, 1, -1],
        ["neg", "pos"],
    )
    stats = datasets.dataset_stats(ds)
    assert stats["count"] == 4
    assert stats["label_counts"] == {"neg": 1, "pos": 2, "(unlabelled)": 1}
    assert stats["label_fractions"]["pos"] == 0.5
    assert stats["tokens_whitespace"] == {
        "mean": 2.5,
        "median": 2.5,
        "p90": 3.7,
        "p99": 3.97,
        "max": 4.0,
    }
    assert stats["tokens_keras"]["max"] == 4.0


def test_data_info_snippets_and_corpus() -> None:
    report = datasets.info("snippets")
    split = report["splits"]["all"]
    assert split["count"] == 10_568
    assert split["label_counts"] == {"neg": 5_326, "pos": 5_242}
    assert 15 < split["tokens_keras"]["mean"] < 25
    assert (
        split["tokens_keras"]["median"]
        <= split["tokens_keras"]["p90"]
        <= split["tokens_keras"]["p99"]
    )
    shakespeare = datasets.info("tinyshakespeare")["splits"]["all"]
    assert shakespeare["chars"] == 1_115_394 and shakespeare["lines"] == 40_000
    assert shakespeare["distinct_chars"] == 65


def test_data_train_test_split_is_stratified_and_seeded() -> None:
    labels = np.array([0] * 80 + [1] * 20)
    ds = TextDataset([f"t{i}" for i in range(100)], labels, ["a", "b"])
    train, test = datasets.train_test_split(ds, test_size=0.25, seed=3)
    assert len(train) == 75 and len(test) == 25
    assert np.bincount(test.labels).tolist() == [20, 5]  # same balance as the whole set
    assert sorted(train.texts + test.texts, key=lambda t: int(t[1:])) == ds.texts
    assert not set(train.texts) & set(test.texts)
    again = datasets.train_test_split(ds, test_size=0.25, seed=3)[1]
    assert again.texts == test.texts
    other = datasets.train_test_split(ds, test_size=0.25, seed=4)[1]
    assert other.texts != test.texts
    assert len(datasets.train_test_split(ds, test_size=10, seed=0)[1]) == 10
    assert len(datasets.train_test_split(ds, test_size=0.1, stratify=False)[1]) == 10


def test_data_train_test_split_refuses_bad_sizes() -> None:
    ds = TextDataset(["a", "b", "c"], [0, 1, 0], ["x", "y"])
    for bad in (0.0, 1.0, 1.5, -0.2):
        with pytest.raises(ValueError, match="test_size"):
            datasets.train_test_split(ds, test_size=bad)
    with pytest.raises(ValueError, match="between 1 and 2"):
        datasets.train_test_split(ds, test_size=3)
    with pytest.raises(TypeError, match="test_size"):
        datasets.train_test_split(ds, test_size="half")


def test_data_cli_list() -> None:
    result = CliRunner().invoke(data_cli, ["list"])
    assert result.exit_code == 0, result.output
    for name in datasets.names():
        assert name in result.output
    assert "bundled" in result.output


def test_data_cli_info_snippets_text_and_json() -> None:
    result = CliRunner().invoke(data_cli, ["info", "snippets"])
    assert result.exit_code == 0, result.output
    assert "10,568 texts" in result.output
    assert "neg 5,326 (50.4%), pos 5,242 (49.6%)" in result.output
    assert "p90" in result.output and "p99" in result.output
    result = CliRunner().invoke(data_cli, ["info", "nietzsche", "--json"])
    assert json.loads(result.output)["splits"]["all"]["chars"] == 600_901


def test_data_cli_info_imdb_with_data_dir(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SEQLAB_CACHE", str(tmp_path / "cache"))
    archive = tmp_path / "aclImdb_v1.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name, text in (
            ("train/pos/0_9.txt", b"Great film."),
            ("train/neg/0_1.txt", b"Bad, bad film."),
            ("test/pos/0_8.txt", b"Fine."),
            ("train/unsup/0_0.txt", b"Who knows."),
        ):
            info = tarfile.TarInfo(f"aclImdb/{name}")
            info.size = len(text)
            tar.addfile(info, io.BytesIO(text))
    result = CliRunner().invoke(data_cli, ["info", "imdb", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "[train] 2 texts" in result.output and "[unsup] 1 texts" in result.output
    assert "(unlabelled) 1 (100.0%)" in result.output


def test_data_cli_info_errors_are_clean(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("SEQLAB_DATA", raising=False)
    result = CliRunner().invoke(data_cli, ["info", "bbc", "--data-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "Error: BBC News data not found" in result.output
    assert "Traceback" not in result.output
    result = CliRunner().invoke(data_cli, ["info", "nope"])
    assert result.exit_code == 1 and "unknown dataset 'nope'" in result.output
