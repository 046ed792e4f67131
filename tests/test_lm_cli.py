"""``seqlab lm train|generate|evaluate`` end to end on a tiny corpus."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
from click.testing import CliRunner

from seqlab.cli.lm import _ManyValuesCommand, lm

TEXT = "the will to truth, the will to power, the will to live. " * 20


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lmcli")
    corpus = folder / "corpus.txt"
    corpus.write_text(TEXT, encoding="utf-8")
    out = folder / "run"
    args = ["train", "--corpus", str(corpus), "--steps", "3", "--out", str(out),
            "--hidden-size", "16", "--num-layers", "1", "--batch-size", "4", "--seq-len", "16",
            "--set", "eval_tokens=200", "--set", "schedule=step", "--device", "cpu", "--quiet"]  # fmt: skip
    result = CliRunner().invoke(lm, args)
    assert result.exit_code == 0, result.output
    return out, result.output


def test_lm_cli_train_writes_a_run(trained_run):
    out, output = trained_run
    assert "3 steps" in output and "held-out loss" in output
    config = json.loads((out / "config.json").read_text())
    assert config["train"]["schedule"] == "step" and config["train"]["hidden_size"] == 16
    assert (out / "model.safetensors").is_file() and (out / "curves.png").is_file()


def test_lm_cli_generate_one_sample_per_temperature(trained_run):
    out, _ = trained_run
    args = ["generate", str(out), "--prompt", "the will", "--temperature", "0.2", "0.5", "1.0",
            "1.2", "--length", "25", "--seed", "1"]  # fmt: skip
    result = CliRunner().invoke(lm, args)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    headers = [line for line in lines if line.startswith("----- temperature")]
    assert headers == [f"----- temperature {t}" for t in (0.2, 0.5, 1.0, 1.2)]
    samples = [lines[lines.index(h) + 1] for h in headers]
    assert all(s.startswith("the will") for s in samples)
    # Same seed, same output.
    assert CliRunner().invoke(lm, args).output == result.output


def test_lm_cli_generate_default_prompt_and_errors(trained_run):
    out, _ = trained_run
    result = CliRunner().invoke(lm, ["generate", str(out), "--length", "5", "-t", "1.0"])
    assert result.exit_code == 0, result.output
    assert result.output.count("----- temperature") == 1
    bad = CliRunner().invoke(lm, ["generate", str(out), "--prompt", "the", "-t", "0"])
    assert bad.exit_code != 0 and "temperature" in bad.output


def test_lm_cli_evaluate(trained_run, tmp_path):
    out, _ = trained_run
    result = CliRunner().invoke(lm, ["evaluate", str(out)])
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.output)
    assert metrics["mode"] == "stream" and metrics["bits_per_char"] > 0
    other = tmp_path / "other.txt"
    other.write_text("the will to power. " * 5)
    result = CliRunner().invoke(lm, ["evaluate", str(out), "--corpus", str(other)])
    assert json.loads(result.output)["tokens"] > 50


def test_lm_cli_bad_setting_is_reported(tmp_path):
    result = CliRunner().invoke(
        lm, ["train", "--corpus", "x.txt", "--steps", "1", "--out", str(tmp_path / "r"),
             "--set", "hiden_size=3"],
    )  # fmt: skip
    assert result.exit_code != 0 and "unknown setting 'hiden_size'" in result.output


def test_lm_cli_temperatures_parse_as_several_values():
    import click

    @click.command(cls=_ManyValuesCommand)
    @click.argument("run")
    @click.option("--temperature", "-t", type=float, multiple=True)
    def cmd(run, temperature):
        click.echo(f"{run} {list(temperature)}")

    run = lambda *a: CliRunner().invoke(cmd, list(a)).output.strip()  # noqa: E731
    assert run("r", "--temperature", "0.2", "0.5", "1") == "r [0.2, 0.5, 1.0]"
    assert run("--temperature", "0.2", "0.5", "r") == "r [0.2, 0.5]"
    assert run("-t", "0.7", "r", "-t", "1.5") == "r [0.7, 1.5]"
    assert run("--temperature=0.3", "0.4", "r") == "r [0.3, 0.4]"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (["--set", "hidden_size=abc"], "hidden_size=abc: expected an integer (int), got 'abc'"),
        (["--set", "hidden_size=3.5"], "hidden_size=3.5: expected an integer"),
        (["--set", "lr=inf"], "lr=inf: expected a finite number"),
        (["--set", "tie_weights=maybe"], "expected true or false"),
        (["--set", "level=word"], "unknown setting 'level'"),
        (["--threads", "0"], "--threads"),
        (["--resume", "--overwrite"], "give one"),
    ],
)
def test_lm_cli_bad_values_are_one_line_usage_errors(tmp_path, settings, message):
    args = ["train", "--corpus", "x.txt", "--steps", "1", "--out", str(tmp_path / "r"), *settings]
    result = CliRunner().invoke(lm, args)
    assert result.exit_code == 2 and message in result.output, result.output
    assert "Traceback" not in result.output


def test_lm_cli_train_into_a_finished_run_needs_overwrite(trained_run, tmp_path):
    out, _ = trained_run
    args = ["train", "--corpus", str(out.parent / "corpus.txt"), "--steps", "2", "--out", str(out),
            "--hidden-size", "8", "--num-layers", "1", "--batch-size", "2", "--seq-len", "8",
            "--set", "eval_tokens=50", "--device", "cpu", "--quiet", "--checkpoint-every", "30"]  # fmt: skip
    refused = CliRunner().invoke(lm, args)
    assert refused.exit_code == 2 and "--overwrite" in refused.output
    assert len(refused.output.strip().splitlines()) == 1
    result = CliRunner().invoke(lm, [*args, "--overwrite", "--threads", "1"])
    assert result.exit_code == 0, result.output
    config = json.loads((out / "config.json").read_text())["train"]
    assert config["hidden_size"] == 8 and config["checkpoint_every"] == 30


def test_lm_cli_evaluate_eval_tokens_and_the_old_max_tokens(trained_run):
    out, _ = trained_run
    some = CliRunner().invoke(lm, ["evaluate", str(out), "--eval-tokens", "40"])
    assert some.exit_code == 0, some.output
    old = CliRunner().invoke(lm, ["evaluate", str(out), "--max-tokens", "40"])
    assert old.exit_code == 0 and "use --eval-tokens 40" in old.output
    assert json.loads(old.output[old.output.index("{") :]) == json.loads(some.output)
    assert "--max-tokens" not in CliRunner().invoke(lm, ["evaluate", "--help"]).output


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_lm_cli_interrupt_writes_a_checkpoint_and_resume_finishes(tmp_path, signum):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TEXT, encoding="utf-8")
    out = tmp_path / "run"
    base = [sys.executable, "-m", "seqlab.cli.main", "lm", "train", "--corpus", str(corpus),
            "--out", str(out), "--device", "cpu", "--threads", "1"]  # fmt: skip
    small = ["--hidden-size", "8", "--num-layers", "1", "--batch-size", "2", "--seq-len", "8",
             "--set", "eval_every=5", "--set", "eval_tokens=50"]  # fmt: skip
    proc = subprocess.Popen(
        [*base, "--minutes", "1", *small], stderr=subprocess.PIPE, text=True, env=os.environ
    )
    try:
        seen = []
        for line in proc.stderr:  # progress lines go to stderr
            seen.append(line)
            if line.startswith("step 5 "):  # an evaluation after some training steps
                break
        assert seen and seen[-1].startswith("step 5 "), "".join(seen)
        proc.send_signal(signum)
        rest = proc.stderr.read()
        assert proc.wait(timeout=60) == 130
    finally:
        proc.kill()
    last = rest.strip().splitlines()[-1]
    assert last.startswith("interrupted at step ") and "--resume" in last, rest
    assert "Traceback" not in rest and "Aborted" not in rest
    assert (out / "checkpoint" / "state.json").is_file()
    assert not (out / "model.safetensors").exists()
    step = int(last.split()[3])
    done = subprocess.run(
        [*base, "--resume", "--steps", str(step + 2), "--quiet"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert f"{step + 2} steps" in done.stdout and (out / "model.safetensors").is_file()
