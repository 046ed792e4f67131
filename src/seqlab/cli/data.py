"""``seqlab data``: list the datasets and show their statistics.

Both commands read the dataset registry of :mod:`seqlab.data.datasets`::

    seqlab data list
    seqlab data info imdb --data-dir ../shared/data/imdb
    seqlab data info snippets --json
"""

from __future__ import annotations

import json
from typing import Any

import click

from seqlab.data import datasets

__all__ = ["data"]


@click.group("data")
def data() -> None:
    """Datasets: what is available, and what is in each."""


@data.command("list")
def list_command() -> None:
    """List the dataset names with what they hold and where they come from."""
    rows = [datasets.describe(name) for name in datasets.names()]
    width = max(len(r["name"]) for r in rows)
    kind_width = max(len(r["kind"]) for r in rows)
    for r in rows:
        click.echo(f"{r['name']:<{width}}  {r['kind']:<{kind_width}}  {r['description']}")
        click.echo(f"{'':<{width}}  {'':<{kind_width}}  source: {r['source']}")


def _lengths(summary: dict[str, float]) -> str:
    return "  ".join(
        f"{k} {v:,.1f}" if k == "mean" else f"{k} {v:,.0f}" for k, v in summary.items()
    )


def _format(report: dict[str, Any]) -> str:
    lines = [f"{report['name']} ({report['kind']}): {report['description']}"]
    lines.append(f"source: {report['source']}")
    for split, stats in report["splits"].items():
        if "count" in stats:  # a labelled dataset
            lines.append(f"[{split}] {stats['count']:,} texts")
            balance = ", ".join(
                f"{name} {n:,} ({stats['label_fractions'][name]:.1%})"
                for name, n in stats["label_counts"].items()
            )
            lines.append(f"  labels: {balance}")
            lines.append(f"  keras tokens:      {_lengths(stats['tokens_keras'])}")
            lines.append(f"  whitespace tokens: {_lengths(stats['tokens_whitespace'])}")
            lines.append(f"  characters:        {_lengths(stats['chars'])}")
        else:  # a corpus
            lines.append(
                f"[{split}] {stats['chars']:,} characters, {stats['lines']:,} lines, "
                f"{stats['distinct_chars']} distinct characters, "
                f"{stats['tokens_keras']:,} keras tokens, "
                f"{stats['tokens_whitespace']:,} whitespace tokens"
            )
    return "\n".join(lines)


@data.command("info")
@click.argument("name")
@click.option(
    "--data-dir",
    type=click.Path(path_type=str),
    default=None,
    help="Where the data is (default: $SEQLAB_DATA, then the cache folder).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the statistics as JSON.")
def info_command(name: str, data_dir: str | None, as_json: bool) -> None:
    """Counts, label balance and text lengths (mean, median, p90, p99) of dataset NAME."""
    try:
        report = datasets.info(name, data_dir=data_dir)
    except (FileNotFoundError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps(report, indent=2) if as_json else _format(report))
