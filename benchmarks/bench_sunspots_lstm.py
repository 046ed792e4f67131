"""Monthly sunspots: the LSTM forecaster settings tried on validation, and the linear AR by lags.

    python benchmarks/bench_sunspots_lstm.py          # -> benchmarks/results/sunspots_lstm.json
    python benchmarks/bench_sunspots_lstm.py --quick  # smoke run -> sunspots_lstm.quick.json

The protocol of ``bench_esn.py`` (train / validation / test by time, 70 / 10 / 20 %, scaling
fitted on train, one-step NRMSE in sunspot units); the record behind its sunspots LSTM grid:

1. Linear AR(p) for every p in ``AR_LAGS``: validation and test NRMSE. The baseline takes
   the p with the lowest validation NRMSE; the test column is reported to show how well the
   validation part predicts the test part on this series, never to choose anything.
2. LSTM trials (``TRIALS``): each setting fitted on the train part with several seeds and
   scored on validation only, one seed at a time and as the mean of the seeds' predictions.
   The test score of the setting chosen on validation comes from ``bench_esn.py``.

    python benchmarks/bench_sunspots_lstm.py --grid-test  # -> sunspots_lstm_grid_test.json

3. Sensitivity, after the choice: every point of ``bench_esn.py``'s sunspots LSTM grid scored
   on validation (fitted on train) and on test (refitted on train + validation), to show how
   much the test score depends on the point that validation picked. Nothing is chosen here.
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import numpy as np
import torch

from _common import RESULTS, environment, write_json
from seqlab.series import (
    LinearAR,
    NeuralForecaster,
    StandardScaler,
    evaluate_forecast,
    nrmse,
    split_by_time,
    sunspots,
)

AR_LAGS = [6, 12, 18, 24, 30, 36, 48, 60, 72, 84, 90, 96, 100, 104, 110, 120, 132, 150, 200]
# bench_esn.py's earlier sunspots setting (early stopping on the last 10 % of the training
# windows); every trial changes it as written
BASE: dict[str, Any] = {"hidden_size": 32, "lags": 132, "weight_decay": 1e-3, "patience": 20}
TRIALS: dict[str, dict[str, Any]] = {
    "hybrid-ar100": {"ar_lags": 100},  # AR(100) fitted first, the LSTM on its residuals
    "hybrid-ar24": {"ar_lags": 24},
    "lstm": {},
    "lstm-no-weight-decay": {"weight_decay": 0.0},
    "lstm-64-units": {"hidden_size": 64},
    "lstm-64-lags": {"lags": 64},
    "lstm-change": {"residual": True},  # learns x[t+1] - x[t]
    # no inner early stopping: 15 epochs on every training window (bench_esn.py's grid)
    "hybrid-ar100-15-epochs": {
        "ar_lags": 100,
        "weight_decay": 0.0,
        "val_split": 0.0,
        "epochs": 15,
    },
    "hybrid-ar100-pool6-15-epochs": {
        "ar_lags": 100,
        "weight_decay": 0.0,
        "val_split": 0.0,
        "epochs": 15,
        "pool": 6,
    },
}


def grid_test(values: np.ndarray, quick: bool, start: float) -> dict[str, Any]:
    """Part 3: validation and test NRMSE of every point of bench_esn.py's sunspots grid."""
    from bench_esn import LAGS, NEURAL_FORECAST

    cfg = NEURAL_FORECAST["sunspots"]
    points = [{"pool": p, "epochs": e} for p in cfg["grid"]["pool"] for e in cfg["grid"]["epochs"]]
    if quick:
        points = [{"pool": 6, "epochs": 3}]
    rows = []
    for point in points:
        rep = evaluate_forecast(values, "lstm", {**cfg["base"], **point}, lags=LAGS)
        m = rep.metrics
        rows.append(
            {
                **point,
                "val": m["lstm"]["val"]["nrmse"],
                "test": m["lstm"]["test"]["nrmse"],
                "linear_ar_test": m["linear-ar"]["test"]["nrmse"],
            }
        )
        print(f"  {point}: val {rows[-1]['val']:.4f} test {rows[-1]['test']:.4f}", flush=True)
    result = {
        "base": cfg["base"],
        "points": rows,
        "linear_ar": {
            "lags": rep.config["ar_lags"],
            **{k: v["nrmse"] for k, v in m["linear-ar"].items()},
        },
        "test_below_linear_ar": sum(r["test"] < r["linear_ar_test"] for r in rows),
        "machine": environment(threads=1),
        "seconds": time.perf_counter() - start,
    }
    out = RESULTS / f"sunspots_lstm_grid_test{'.quick' if quick else ''}.json"
    write_json(out, result)
    print(f"{result['test_below_linear_ar']} of {len(rows)} points below the AR on test -> {out}")
    return result


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument("--data-dir", default=os.environ.get("SEQLAB_DATA", "../shared/data"))
    parser.add_argument("--seeds", type=int, default=3, help="seeds per LSTM setting")
    parser.add_argument("--grid-test", action="store_true", help="part 3 only (see above)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    start = time.perf_counter()
    values = sunspots(args.data_dir).values
    if args.grid_test:
        return grid_test(values, args.quick, start)
    split = split_by_time(len(values), 0.1, 0.2)
    scaler = StandardScaler().fit(values[split.train])
    z = scaler.transform(values)
    u, y = z[:-1], z[1:]
    train_stop, val_steps = split.steps("train", 1).stop, split.steps("val", 1)
    truth = values[val_steps.start + 1 : val_steps.stop + 1]
    seeds = list(range(1 if args.quick else args.seeds))
    base = {**BASE, "epochs": 3} if args.quick else BASE
    trials = (
        {k: TRIALS[k] for k in ("hybrid-ar100", "hybrid-ar100-pool6-15-epochs")}
        if args.quick
        else TRIALS
    )

    print("linear AR over lags ...", flush=True)
    ar_rows = []
    for p in AR_LAGS:
        rep = evaluate_forecast(values, LinearAR, {"lags": p}, baselines=False)
        m = rep.metrics["LinearAR"]
        ar_rows.append({"lags": p, "val": m["val"]["nrmse"], "test": m["test"]["nrmse"]})
        print(f"  AR({p}) val {ar_rows[-1]['val']:.4f} test {ar_rows[-1]['test']:.4f}")

    rows: dict[str, Any] = {}
    for name, change in trials.items():
        kwargs = {**base, **change}
        preds, per_seed = [], []
        for s in seeds:
            t0 = time.perf_counter()
            fc = NeuralForecaster("lstm", **{**kwargs, "seed": s}).fit(
                u[:train_stop], y[:train_stop]
            )
            pred = scaler.inverse_transform(fc.predict(u[: val_steps.stop])[val_steps])
            preds.append(pred)
            per_seed.append(
                {
                    "seed": s,
                    "val": nrmse(truth, pred),
                    "best_epoch": fc.best_epoch_,
                    "seconds": time.perf_counter() - t0,
                }
            )
            print(f"  {name} seed {s}: val {per_seed[-1]['val']:.4f}", flush=True)
        rows[name] = {
            "kwargs": kwargs,
            "per_seed": per_seed,
            "val_seed_average": nrmse(truth, np.mean(preds, axis=0)),
        }
        print(f"  {name} seed average: val {rows[name]['val_seed_average']:.4f}", flush=True)

    best = min(rows, key=lambda k: rows[k]["val_seed_average"])
    result = {
        "protocol": {"split": [0.7, 0.1, 0.2], "n": len(values), "seeds": seeds},
        "linear_ar_by_lags": ar_rows,
        "linear_ar_val_best": min(ar_rows, key=lambda r: r["val"]),
        "lstm_trials": rows,
        "lstm_val_best": {"trial": best, "val_seed_average": rows[best]["val_seed_average"]},
        "machine": environment(threads=1),
        "seconds": time.perf_counter() - start,
    }
    out = RESULTS / f"sunspots_lstm{'.quick' if args.quick else ''}.json"
    write_json(out, result)
    print("validation best:", result["lstm_val_best"], "->", out)
    return result


if __name__ == "__main__":
    main()
