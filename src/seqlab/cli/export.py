"""``seqlab export RUN --format onnx|torchscript --out DIR``: a trained run as a folder that
runs without seqlab (:func:`seqlab.export.export`)."""

from __future__ import annotations

from pathlib import Path

import click

from seqlab.cli.errors import user_errors
from seqlab.cli.options import choice_option, run_argument
from seqlab.defaults import EXPORT_FORMATS

__all__ = ["export"]


@click.command("export")
@run_argument
@choice_option(
    "--format",
    EXPORT_FORMATS,
    "onnx: run by onnxruntime; torchscript: run by torch (for a model ONNX cannot express).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default=None,
    help="Folder for the exported model [default: exported/<RUN's name>-<format>].",
)
@click.option("--overwrite", is_flag=True, help="Replace an earlier export in --out.")
@user_errors
def export(run_dir: str, format: str, out: str | None, overwrite: bool) -> None:
    """Export the classifier or language model of the run RUN, with its vocabulary, its
    preprocessing settings (preprocessing.json) and a standalone predict.py that needs only
    numpy and onnxruntime (torch for TorchScript).

    \b
    seqlab export runs/lstm --out exported/lstm
    python exported/lstm/predict.py "a wonderful, moving film"
    seqlab export runs/nz --out exported/nz
    python exported/nz/predict.py "the will to" --top 5 --length 40

    The exported graph is checked against seqlab's model on texts of different lengths
    before it is written (probabilities equal to 1e-5).
    """
    from seqlab.export import export as export_run

    target = Path(out) if out is not None else Path("exported") / f"{Path(run_dir).name}-{format}"
    path = export_run(run_dir, target, format, overwrite=overwrite)
    click.echo(f"exported {run_dir} as {format} to {path}")
    click.echo(f'run it without seqlab: python {path / "predict.py"} "a text"')
