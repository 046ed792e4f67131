"""The echo state network for regression and forecasting: reservoir + linear readout."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Unpack

import numpy as np

from seqlab._checks import check_choice
from seqlab._utils import PathLike
from seqlab.models.esn._inputs import as_batch, give_back, valid_rows
from seqlab.models.esn._io import load_model, save_model
from seqlab.models.esn._model import ReservoirModel
from seqlab.models.esn._names import accepts_old_names
from seqlab.models.esn.linalg import ridge_gram, solve_gram
from seqlab.models.esn.reservoir import ReservoirOptions

__all__ = ["ESN"]

# fitted arrays saved next to the matrices
_FITTED_ARRAYS = ("state_", "last_output_", "P_")


class ESN(ReservoirModel):
    """Echo state network for sequence-to-sequence regression and forecasting.

    Update equations (``a`` = ``leak_rate``, ``f`` = ``activation``)::

        x[t] = (1 - a) x[t-1] + a f(W_in u[t] + W x[t-1] + b)
        y[t] = W_out [1; x[t]]             (input_to_readout=False)
        y[t] = W_out [1; u[t]; x[t]]       (input_to_readout=True)

    ``W_out`` (outputs, 1 + features) is fitted by ridge regression in closed form on the
    teacher-forced states after ``warmup`` steps of each training sequence
    (``readout="ridge"``), or sample by sample with recursive least squares
    (``readout="rls"``: ``P`` starts at ``I / ridge``, ``forgetting`` in (0, 1] discounts old
    samples; :meth:`partial_fit` keeps learning online). The reservoir's other arguments
    (``leak_rate``, ``input_scaling``, ..., ``seed``: the
    :class:`~seqlab.models.esn.reservoir.ReservoirOptions`) are keywords with the
    :class:`~seqlab.models.esn.Reservoir`'s defaults; see there how the random matrices are
    drawn from ``seed`` and how ``spectral_radius`` is set exactly. ``lr`` / ``sr``
    (reservoirpy's names) still work as deprecated aliases.

    Inputs: a (T, D) series (a (T,) one means D=1), a padded (B, T, D) batch with
    ``lengths``, or a list of (T_i, D) arrays; outputs come back in the same layout.

    >>> import numpy as np
    >>> t = np.arange(600)
    >>> u = np.sin(2 * np.pi * t / 50)[:, None]
    >>> esn = ESN(units=50, spectral_radius=0.9, leak_rate=0.5, ridge=1e-6, seed=0)
    >>> esn = esn.fit(u[:-1], u[1:], warmup=50)
    >>> esn.run(u[:-1], reset=True).shape
    (599, 1)
    >>> esn.generate(20, warmup_inputs=u[:100]).shape
    (20, 1)
    """

    @accepts_old_names
    def __init__(
        self,
        units: int = 100,
        spectral_radius: float = 1.0,
        *,
        ridge: float = 1e-6,
        input_to_readout: bool = False,
        readout: str = "ridge",
        forgetting: float = 1.0,
        **reservoir: Unpack[ReservoirOptions],
    ) -> None:
        if ridge < 0:
            raise ValueError(f"ridge must be >= 0, got {ridge}")
        check_choice("readout", readout, ("ridge", "rls"))
        if readout == "rls" and ridge <= 0:
            raise ValueError(
                f"readout='rls' needs ridge > 0 (P starts at I / ridge), got ridge={ridge}"
            )
        if not 0.0 < forgetting <= 1.0:
            raise ValueError(f"forgetting must be in (0, 1], got {forgetting}")
        self.ridge = float(ridge)
        self.input_to_readout = bool(input_to_readout)
        self.readout = readout
        self.forgetting = float(forgetting)
        self._init_reservoir(
            units,
            spectral_radius,
            reservoir,
            {
                "ridge": self.ridge,
                "input_to_readout": self.input_to_readout,
                "readout": readout,
                "forgetting": self.forgetting,
            },
        )
        self.W_out: np.ndarray | None = None
        self.state_: np.ndarray | None = None
        self.last_output_: np.ndarray | None = None
        self.P_: np.ndarray | None = None
        self._gram: np.ndarray | None = None

    # -- helpers -----------------------------------------------------------------------

    @property
    def units(self) -> int:
        return self.reservoir.units

    @property
    def input_dim(self) -> int | None:
        return self.reservoir.input_dim

    @property
    def output_dim(self) -> int | None:
        return None if self.W_out is None else self.W_out.shape[0]

    @property
    def spectral_radius_(self) -> float | None:
        """The spectral radius measured on the built recurrent matrix."""
        return self.reservoir.spectral_radius_

    def _features(self, states: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Readout features ``[1; (u); x]`` for states (..., N) and inputs (..., D)."""
        ones = np.ones(states.shape[:-1] + (1,))
        parts = [ones, u, states] if self.input_to_readout else [ones, states]
        return np.concatenate(parts, axis=-1)

    def _start_state(self, batch: int, reset: bool) -> np.ndarray | None:
        if reset or self.state_ is None:
            return None
        if self.state_.shape[0] != batch:
            raise ValueError(
                f"the model holds the state of {self.state_.shape[0]} sequence(s) from its last "
                f"fit/run but got {batch}; pass reset=True to start from a zero state"
            )
        return self.state_

    def _check_fitted(self) -> None:
        if self.W_out is None:
            raise ValueError("this ESN is not fitted yet; call fit(x, y, warmup=...) first")

    def _prepare_xy(
        self, x: Any, y: Any, lengths: Any, warmup: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
        if not isinstance(warmup, int | np.integer) or warmup < 0:
            raise ValueError(f"warmup must be an int >= 0, got {warmup!r}")
        u, lens, kind = as_batch(x, lengths, "x", self.input_dim)
        tgt, tlens, _ = as_batch(y, lengths, "y", self.output_dim)
        if tgt.shape[0] != u.shape[0] or not np.array_equal(tlens, lens):
            raise ValueError(
                f"x and y must hold the same sequences with the same lengths; got lengths "
                f"{lens.tolist()[:5]} for x and {tlens.tolist()[:5]} for y"
            )
        if lens.min() <= warmup:
            raise ValueError(
                f"a training sequence has {int(lens.min())} steps but warmup={warmup} discards "
                f"the first {warmup}; use longer sequences or a smaller warmup"
            )
        return u, tgt[:, : u.shape[1]], lens, kind

    def _teacher_forced(
        self, x: Any, y: Any, lengths: Any, warmup: int, reset: bool
    ) -> tuple[np.ndarray, np.ndarray, Callable[[], None]]:
        """Run the reservoir on ``x``: ``(features (N, F), targets (N, O), finish)``, the rows
        after the warm-up of every sequence; ``finish()``, once ``W_out`` is fitted, keeps the
        final state and last output for the next run."""
        u, tgt, lens, _ = self._prepare_xy(x, y, lengths, warmup)
        if not self.reservoir.built:
            self.reservoir.build(u.shape[2])
        states, final = self.reservoir.run_batch(u, lens, self._start_state(u.shape[0], reset))

        def finish() -> None:
            self.state_ = final
            last_u = u[np.arange(u.shape[0]), lens - 1]
            self.last_output_ = self._features(final, last_u) @ self.W_out.T

        phi = valid_rows(self._features(states, u), lens, warmup)
        return phi, valid_rows(tgt, lens, warmup), finish

    # -- training ----------------------------------------------------------------------

    def fit(self, x: Any, y: Any, warmup: int = 0, lengths: Any = None, reset: bool = True) -> ESN:
        """Teacher-forced training: run the reservoir on ``x`` and fit the readout to ``y``.

        ``y[t]`` is the target for the state after reading ``x[t]``; the first ``warmup``
        steps of every sequence only settle the state and are left out of the regression.
        Starts from a zero state unless ``reset=False``. Returns ``self``.

        >>> x = np.random.default_rng(0).normal(size=(200, 2))
        >>> ESN(units=20, seed=0).fit(x, x[:, :1] * 2, warmup=10).W_out.shape
        (1, 21)
        """
        phi, target, finish = self._teacher_forced(x, y, lengths, warmup, reset)
        if self.readout == "ridge":
            # kept so that partial_fit can continue this exact least-squares problem online
            self._gram = ridge_gram(phi, self.ridge)
            self.W_out = solve_gram(self._gram, phi.T @ target)
            self.P_ = None
        else:
            self.W_out = np.zeros((target.shape[1], phi.shape[1]))
            self.P_ = np.eye(phi.shape[1]) / self.ridge
            self._rls(phi, target)
        finish()
        return self

    def _rls(self, phi: np.ndarray, target: np.ndarray) -> None:
        """Recursive least squares over the rows of ``phi`` (in time order)."""
        w, p, lam = self.W_out, self.P_, self.forgetting
        for i in range(phi.shape[0]):
            f = phi[i]
            pf = p @ f
            k = pf / (lam + f @ pf)
            w += np.outer(target[i] - w @ f, k)
            p -= np.outer(k, pf)
            if lam != 1.0:
                p /= lam
        self.W_out, self.P_ = w, p

    def partial_fit(
        self, x: Any, y: Any, warmup: int = 0, lengths: Any = None, reset: bool = False
    ) -> ESN:
        """Online update of the readout with recursive least squares, step by step.

        Continues from the current state (``reset=False``) and from the current readout: after
        a ridge ``fit`` the RLS matrix ``P`` starts at ``(Phi^T Phi + ridge R)^-1`` of that fit,
        so the update is exactly the least-squares solution on all data seen; otherwise
        ``P = I / ridge`` (``ridge`` must then be > 0).

        >>> x = np.random.default_rng(0).normal(size=(300, 1))
        >>> esn = ESN(units=20, readout="rls", ridge=1e-3, seed=0)
        >>> esn.partial_fit(x[:150], x[:150]).partial_fit(x[150:], x[150:]).W_out.shape
        (1, 21)
        """
        phi, target, finish = self._teacher_forced(x, y, lengths, warmup, reset)
        if self.P_ is None:
            if self.W_out is not None and self._gram is not None:
                self.P_ = np.linalg.pinv(self._gram, hermitian=True)
            else:
                if self.ridge <= 0:
                    raise ValueError(
                        f"partial_fit from scratch needs ridge > 0 (P starts at I / ridge), "
                        f"got ridge={self.ridge}"
                    )
                self.P_ = np.eye(phi.shape[1]) / self.ridge
            self._gram = None
        if self.W_out is None:
            self.W_out = np.zeros((target.shape[1], phi.shape[1]))
        self._rls(phi, target)
        finish()
        return self

    # -- inference ---------------------------------------------------------------------

    def run(
        self, x: Any, lengths: Any = None, reset: bool = False, return_states: bool = False
    ) -> Any:
        """Readout outputs for every step of ``x`` (shaped like ``x``, with outputs as features).

        Continues from the state left by the last fit/run (reservoirpy semantics) unless
        ``reset=True``. With ``return_states=True`` returns ``(outputs, states)``.

        >>> x = np.random.default_rng(0).normal(size=(100, 1))
        >>> esn = ESN(units=10, seed=0).fit(x, x)
        >>> [a.shape for a in esn.run([x[:5], x[:7]], reset=True)]
        [(5, 1), (7, 1)]
        """
        self._check_fitted()
        u, lens, kind = as_batch(x, lengths, "x", self.input_dim)
        states, final = self.reservoir.run_batch(u, lens, self._start_state(u.shape[0], reset))
        out = self._features(states, u) @ self.W_out.T
        self.state_ = final
        self.last_output_ = out[np.arange(u.shape[0]), lens - 1]
        if return_states:
            return give_back(out, lens, kind), give_back(states, lens, kind)
        return give_back(out, lens, kind)

    predict = run

    def generate(self, n_steps: int, warmup_inputs: Any = None, lengths: Any = None) -> np.ndarray:
        """Closed-loop (generative) forecast: each output is fed back as the next input.

        With ``warmup_inputs`` (T, D) the state is reset and driven by them first
        (teacher-forced); the result is then the forecast of the ``n_steps`` values that
        follow them: ``[u[T], u[T+1], ...]``. Without, it continues from the last fit/run.
        Needs outputs of the same size as inputs (a one-step-ahead model).
        Returns (n_steps, D), or (B, n_steps, D) for a batch of warm-up sequences.

        >>> u = np.sin(np.arange(400) / 8.0)[:, None]
        >>> esn = ESN(units=40, spectral_radius=0.9, seed=0).fit(u[:-1], u[1:], warmup=20)
        >>> esn.generate(5, warmup_inputs=u[:100]).shape
        (5, 1)
        """
        self._check_fitted()
        if not isinstance(n_steps, int | np.integer) or n_steps < 1:
            raise ValueError(f"n_steps must be a positive int, got {n_steps!r}")
        if self.output_dim != self.input_dim:
            raise ValueError(
                f"closed-loop generation feeds outputs back as inputs, but this model maps "
                f"{self.input_dim} input features to {self.output_dim} outputs; fit it as a "
                "one-step-ahead forecaster (y[t] = x[t+1])"
            )
        kind = "single"
        if warmup_inputs is not None:
            u, lens, kind = as_batch(warmup_inputs, lengths, "warmup_inputs", self.input_dim)
            self.run(u, lengths=lens, reset=True)
        elif self.state_ is None:
            raise ValueError("no state to continue from; pass warmup_inputs or call fit/run first")
        y = self.last_output_
        x = self.state_
        out = np.empty((y.shape[0], n_steps, y.shape[1]))
        out[:, 0] = y
        for k in range(1, n_steps):
            x = self.reservoir.step(y, x)
            y = self._features(x, y) @ self.W_out.T
            out[:, k] = y
        self.state_, self.last_output_ = x, y
        return out[0] if kind == "single" else out

    forecast = generate

    def reset(self) -> ESN:
        """Forget the reservoir state (the next run starts from zeros)."""
        self.state_ = None
        self.last_output_ = None
        return self

    # -- persistence -------------------------------------------------------------------

    def save(self, path: PathLike) -> Path:
        """Write ``config.json`` and ``model.safetensors`` (matrices, readout, state) to ``path``.

        >>> x = np.zeros((30, 1))
        >>> folder = ESN(units=5, seed=0).fit(x, x).save("/tmp/seqlab-esn-doc")
        >>> ESN.load(folder).W_out.shape
        (1, 6)
        """
        self._check_fitted()
        return save_model(self, path, {"input_dim": self.input_dim}, _FITTED_ARRAYS)

    @classmethod
    def load(cls, path: PathLike) -> ESN:
        """Rebuild a model written by :meth:`save` (same matrices, readout and state)."""
        return load_model(cls, path, _FITTED_ARRAYS)[0]
