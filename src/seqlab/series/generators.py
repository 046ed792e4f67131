"""Synthetic series: Mackey-Glass (reservoirpy's discretisation) and sums of sines.

>>> mackey_glass(3).ravel().round(4).tolist()
[1.2, 1.1375, 1.0617]
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["MACKEY_GLASS_SEED", "mackey_glass", "sine_mixture"]

# reservoirpy draws the random Mackey-Glass history with this seed when none is given
# (reservoirpy.datasets._seed._DEFAULT_SEED); using it by default gives the same series.
MACKEY_GLASS_SEED = 5555


def _mg_rk4(xt: float, xtau: float, a: float, b: float, n: float, h: float) -> float:
    # reservoirpy's discretisation (datasets._chaos._mg_rk4), kept term for term so the
    # series match: the delayed term is held fixed over the step.
    bh = -b * h
    k1 = bh * xt + a * xtau / (1 + xtau**n)
    k2 = 2 * k1 + bh * k1
    k3 = 2 * k1 + bh * k2
    k4 = k1 + bh * k3
    return xt + (k1 + k2 + k3 + k4) / 6


def mackey_glass(
    n_timesteps: int,
    tau: int = 17,
    a: float = 0.2,
    b: float = 0.1,
    n: int = 10,
    x0: float = 1.2,
    h: float = 1.0,
    seed: int | None = MACKEY_GLASS_SEED,
    history: np.ndarray | None = None,
) -> np.ndarray:
    """Mackey-Glass series ``dx/dt = a x(t - tau) / (1 + x(t - tau)^n) - b x(t)``: (T, 1).

    Same discretisation and defaults as ``reservoirpy.datasets.mackey_glass`` (RK4 step of
    ``h`` with the delayed value ``x(t - tau)`` read from the ``floor(tau / h)`` previous
    steps); the history before ``t = 0`` is ``x0 + U(-0.1, 0.1)`` drawn with ``seed``
    (reservoirpy's default seed, 5555, so the default series equals reservoirpy's), or the
    last ``floor(tau / h)`` values of ``history``. ``tau=17`` is mildly chaotic, ``tau=30``
    more so.

    >>> x = mackey_glass(500)
    >>> x.shape, float(x[0, 0])
    ((500, 1), 1.2)
    """
    if not isinstance(n_timesteps, int | np.integer) or n_timesteps < 1:
        raise ValueError(f"n_timesteps must be a positive int, got {n_timesteps!r}")
    if h <= 0:
        raise ValueError(f"h (time step) must be > 0, got {h}")
    if tau < 0:
        raise ValueError(f"tau must be >= 0, got {tau}")
    history_length = int(math.floor(tau / h))
    if history is None:
        rng = np.random.default_rng(seed)
        past = x0 * np.ones(history_length) + 0.2 * (rng.random(history_length) - 0.5)
    else:
        history = np.asarray(history, dtype=np.float64).reshape(-1)
        if len(history) < history_length:
            raise ValueError(
                f"history has {len(history)} values but tau/h needs at least {history_length}; "
                "give a longer history"
            )
        past = history[len(history) - history_length :]
    series = np.empty(history_length + n_timesteps)
    series[:history_length] = past
    xt = x0
    for i in range(history_length, history_length + n_timesteps):
        series[i] = xt
        xtau = series[i - history_length] if tau > 0 else 0.0
        xt = _mg_rk4(xt, xtau, a, b, n, h)
    return series[history_length:].reshape(-1, 1)


def sine_mixture(
    n_timesteps: int,
    periods: Sequence[float] = (20.0, 31.4),
    amplitudes: Sequence[float] | None = None,
    phases: Sequence[float] | None = None,
    noise: float = 0.0,
    seed: int | None = 0,
) -> np.ndarray:
    """Sum of sines ``sum_k A_k sin(2 pi t / P_k + phi_k)`` plus Gaussian noise: (T, 1).

    Phases default to 0, amplitudes to 1; ``noise`` is the noise std, drawn with ``seed``.

    >>> sine_mixture(4, periods=[4.0]).round(6).ravel().tolist()
    [0.0, 1.0, 0.0, -1.0]
    """
    if not isinstance(n_timesteps, int | np.integer) or n_timesteps < 1:
        raise ValueError(f"n_timesteps must be a positive int, got {n_timesteps!r}")
    periods = [float(p) for p in periods]
    if not periods or min(periods) <= 0:
        raise ValueError(f"periods must be positive numbers, got {periods}")
    amps = np.ones(len(periods)) if amplitudes is None else np.asarray(amplitudes, dtype=float)
    phs = np.zeros(len(periods)) if phases is None else np.asarray(phases, dtype=float)
    if len(amps) != len(periods) or len(phs) != len(periods):
        raise ValueError(
            f"give one amplitude and one phase per period: {len(periods)} periods, "
            f"{len(amps)} amplitudes, {len(phs)} phases"
        )
    t = np.arange(n_timesteps, dtype=np.float64)[:, None]
    x = (amps * np.sin(2 * np.pi * t / np.asarray(periods) + phs)).sum(axis=1)
    if noise < 0:
        raise ValueError(f"noise (std) must be >= 0, got {noise}")
    if noise > 0:
        x = x + np.random.default_rng(seed).normal(0.0, noise, size=n_timesteps)
    return x.reshape(-1, 1)
