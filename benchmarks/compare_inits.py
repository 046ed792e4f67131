"""The IMDB table both ways: PyTorch's initialisation (``imdb_seq.json``) against Keras's
(``imdb_seq.keras_init.json``), row by row, as a Markdown table.

    python benchmarks/bench_imdb_seq.py --init keras --models ...   # the Keras rows
    python benchmarks/compare_inits.py                              # the table

Each row is chosen on validation accuracy, as the benchmark's protocol says; the better
validation figure is in bold (a tie: within 0.1 point), test accuracy in brackets.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
TIE = 0.001  # validation accuracies closer than this are a tie (5 reviews of 5,000)


def _cell(row: dict, bold: bool) -> str:
    val = f"{row['val_accuracy']:.4f}"
    return f"{'**' + val + '**' if bold else val} ({100 * row['test_accuracy']:.2f}%)"


def table(torch_rows: dict, keras_rows: dict) -> tuple[str, dict[str, int]]:
    """The Markdown table and the count of rows each initialisation wins (or ties)."""
    lines = [
        '| model | `init="torch"` | `init="keras"` | better |',
        "| --- | --- | --- | --- |",
    ]
    score = {"torch": 0, "keras": 0, "tie": 0, "missing": 0}
    for name, t in torch_rows.items():
        k = keras_rows.get(name)
        if k is None:
            lines.append(f"| {name} | {_cell(t, False)} | not run | – |")
            score["missing"] += 1
            continue
        diff = k["val_accuracy"] - t["val_accuracy"]
        winner = "tie" if abs(diff) < TIE else ("keras" if diff > 0 else "torch")
        score[winner] += 1
        lines.append(
            f"| {name} | {_cell(t, winner == 'torch')} | {_cell(k, winner == 'keras')} | "
            f"{winner} ({100 * diff:+.2f}) |"
        )
    return "\n".join(lines), score


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--torch", type=Path, default=RESULTS / "imdb_seq.json")
    parser.add_argument("--keras", type=Path, default=RESULTS / "imdb_seq.keras_init.json")
    args = parser.parse_args()
    torch_rows = json.loads(args.torch.read_text())["results"]
    keras_rows = json.loads(args.keras.read_text())["results"]
    text, score = table(torch_rows, keras_rows)
    print(text)
    print(f"\nvalidation: keras better {score['keras']}, torch better {score['torch']}, "
          f"tie {score['tie']}, not run with keras {score['missing']}")  # fmt: skip


if __name__ == "__main__":
    main()
