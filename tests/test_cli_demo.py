"""`seqlab demo` on the bundled movie-review snippets."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import seqlab
from seqlab.cli.main import cli
from seqlab.demo import STEPS, run_demo


def test_demo_steps_are_a_list_ending_with_summary():
    titles = [title for title, _ in STEPS]
    assert titles[0].startswith("Data") and titles[-1] == "Summary"
    assert all(callable(step) for _, step in STEPS)


@pytest.mark.slow
def test_demo_runs_end_to_end(tmp_path):
    out = tmp_path / "demo"
    result = CliRunner().invoke(
        cli, ["demo", "--out", str(out), "--device", "cpu", "--lm-steps", "150"]
    )
    assert result.exit_code == 0, result.output
    assert "tokens:" in result.output and "vector:" in result.output
    summary = json.loads((out / "summary.json").read_text())
    bow = summary["models"]["bow-nbsvm"]
    assert bow["test_accuracy"] >= 0.77  # NBSVM uni+bigrams on Rotten Tomatoes: about 0.80
    assert (out / "bow-nbsvm" / "curves.png").is_file()
    run = seqlab.load(out / "bow-nbsvm")
    assert run.predict(["a wonderful, moving film"]) == ["pos"]
    # the language-model step: four temperatures, a run folder that reloads
    assert "temperature 0.2" in result.output and "temperature 1.2" in result.output
    assert summary["language_model"]["val_nats_per_char"] < 3.5  # uniform over ~50 chars: 3.9
    lm = seqlab.load(out / "lm-char")
    assert len(lm.generate("the ", length=20, temperature=0.5, seed=0)) > 0


def test_demo_custom_steps_share_state(tmp_path):
    seen = []
    state = run_demo(tmp_path, steps=[("one", lambda s: seen.append(s.seed))], seed=5,
                     echo=lambda line: None)  # fmt: skip
    assert seen == [5] and state.out == tmp_path
