"""The reservoir: a fixed random leaky-integrator recurrent layer, drawn once from a seed."""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any, TypedDict

import numpy as np
import scipy.sparse
from scipy.special import expit

from seqlab._checks import check_choice
from seqlab.models.esn import linalg
from seqlab.models.esn._inputs import as_batch, give_back
from seqlab.models.esn._names import accepts_old_names

__all__ = ["RESERVOIR_DEFAULTS", "Reservoir", "ReservoirOptions"]

_ACTIVATIONS = {
    "tanh": np.tanh,
    "sigmoid": expit,
    "relu": lambda z: np.maximum(z, 0.0),
    "identity": lambda z: z,
}


class ReservoirOptions(TypedDict, total=False):
    """The arguments of :class:`Reservoir` besides ``units`` and ``spectral_radius`` (and
    ``input_dim``), which the models built on one (:class:`~seqlab.models.esn.ESN`,
    :class:`~seqlab.models.esn.ESNClassifier`) take among their own as keywords
    (``**reservoir``); see :class:`Reservoir` for their meaning."""

    leak_rate: float
    input_scaling: float | Sequence[float]
    bias_scaling: float
    rc_connectivity: float
    input_connectivity: float
    activation: str
    input_weights: str
    seed: int | None


class Reservoir:
    """A fixed random leaky-integrator recurrent layer (no readout).

    ``x[t] = (1 - a) * x[t-1] + a * f(W_in @ u[t] + W @ x[t-1] + b)`` with ``a = leak_rate``

    * ``W`` (units, units): ``round(rc_connectivity * units**2)`` non-zero entries at random
      places, drawn from N(0, 1), then rescaled so that its measured spectral radius is
      ``spectral_radius``.
    * ``W_in`` (units, input_dim): ``round(input_connectivity * units * input_dim)`` non-zero
      entries (at least one), +-1 with equal odds (``input_weights="bernoulli"``, as
      reservoirpy) or U(-1, 1) (``"uniform"``), times ``input_scaling`` (a float or one value
      per input feature).
    * ``b`` (units,): U(-1, 1) times ``bias_scaling`` (0 = no bias, reservoirpy's default).

    The three matrices use three generators spawned from one ``numpy.random.SeedSequence(seed)``,
    so ``W`` does not depend on the input size and the same seed gives the same reservoir.
    ``W_in`` is built on first use, when the input size is known (or give ``input_dim``).

    >>> res = Reservoir(units=50, spectral_radius=0.9, seed=0)
    >>> round(res.build(input_dim=2).spectral_radius_, 6)
    0.9
    >>> res.states(np.zeros((10, 2))).shape
    (10, 50)
    """

    @accepts_old_names
    def __init__(
        self,
        units: int = 100,
        spectral_radius: float = 1.0,
        leak_rate: float = 1.0,
        input_scaling: float | Sequence[float] = 1.0,
        bias_scaling: float = 0.0,
        rc_connectivity: float = 0.1,
        input_connectivity: float = 0.1,
        activation: str = "tanh",
        input_weights: str = "bernoulli",
        input_dim: int | None = None,
        seed: int | None = 0,
    ) -> None:
        if not isinstance(units, int | np.integer) or isinstance(units, bool) or units < 1:
            raise ValueError(f"units must be a positive int, got {units!r}")
        if not 0.0 < leak_rate <= 1.0:
            raise ValueError(
                f"leak_rate must be in (0, 1] (1 = no leak), got {leak_rate!r}; "
                "use e.g. 0.3 for slow dynamics"
            )
        if spectral_radius < 0:
            raise ValueError(
                f"spectral_radius must be >= 0, got {spectral_radius!r}; "
                "use e.g. 0.9 (below 1 for a fading memory)"
            )
        for pname, val in (
            ("rc_connectivity", rc_connectivity),
            ("input_connectivity", input_connectivity),
        ):
            if not 0.0 < val <= 1.0:
                raise ValueError(f"{pname} must be in (0, 1], got {val}")
        check_choice("activation", activation, _ACTIVATIONS)
        check_choice("input_weights", input_weights, ("bernoulli", "uniform"))
        if bias_scaling < 0:
            raise ValueError(f"bias_scaling must be >= 0, got {bias_scaling}")
        self.units = int(units)
        self.spectral_radius = float(spectral_radius)
        self.leak_rate = float(leak_rate)
        self.input_scaling = (
            float(input_scaling)
            if np.ndim(input_scaling) == 0
            else [float(v) for v in input_scaling]  # type: ignore[union-attr]
        )
        self.bias_scaling = float(bias_scaling)
        self.rc_connectivity = float(rc_connectivity)
        self.input_connectivity = float(input_connectivity)
        self.activation = activation
        self.input_weights = input_weights
        self.input_dim = None if input_dim is None else int(input_dim)
        self.seed = None if seed is None else int(seed)
        self.W: np.ndarray | scipy.sparse.csr_array | None = None
        self.W_in: np.ndarray | None = None
        self.bias: np.ndarray | None = None
        self._measured_sr: float | None = None
        self._WT: np.ndarray | None = None  # cached contiguous W.T for the dense matvec
        if self.input_dim is not None:
            self.build(self.input_dim)

    # -- construction ------------------------------------------------------------------

    @property
    def config(self) -> dict[str, Any]:
        """The constructor arguments (JSON-able)."""
        return {
            "units": self.units,
            "spectral_radius": self.spectral_radius,
            "leak_rate": self.leak_rate,
            "input_scaling": self.input_scaling,
            "bias_scaling": self.bias_scaling,
            "rc_connectivity": self.rc_connectivity,
            "input_connectivity": self.input_connectivity,
            "activation": self.activation,
            "input_weights": self.input_weights,
            "input_dim": self.input_dim,
            "seed": self.seed,
        }

    @property
    def spectral_radius_(self) -> float | None:
        """The spectral radius measured on the built ``W`` (computed on first access)."""
        if self.W is None:
            return None
        if self._measured_sr is None:
            self._measured_sr = linalg.spectral_radius(self.W)
        return self._measured_sr

    @property
    def built(self) -> bool:
        return self.W_in is not None

    def _generators(self) -> list[np.random.Generator]:
        children = np.random.SeedSequence(self.seed).spawn(3)
        return [np.random.default_rng(c) for c in children]

    def build(self, input_dim: int) -> Reservoir:
        """Draw ``W``, ``W_in`` and ``b`` for inputs of ``input_dim`` features."""
        if input_dim < 1:
            raise ValueError(f"input_dim must be >= 1, got {input_dim}")
        if isinstance(self.input_scaling, list) and len(self.input_scaling) != input_dim:
            raise ValueError(
                f"input_scaling has {len(self.input_scaling)} values but the input has "
                f"{input_dim} features; give one value per feature or a single float"
            )
        w_rng, in_rng, b_rng = self._generators()
        n = self.units
        # recurrent matrix: exact number of connections at distinct random places
        nnz = max(1, round(self.rc_connectivity * n * n))
        flat = w_rng.choice(n * n, size=nnz, replace=False)
        vals = w_rng.standard_normal(nnz)
        w = scipy.sparse.csr_array((vals, (flat // n, flat % n)), shape=(n, n))
        radius = linalg.spectral_radius(w)
        if self.spectral_radius > 0 and radius < 1e-12:
            raise ValueError(
                f"the random recurrent matrix has spectral radius 0 (rc_connectivity="
                f"{self.rc_connectivity} is too sparse for {n} units to form a cycle); "
                "raise rc_connectivity or units"
            )
        w = w * (self.spectral_radius / radius) if radius > 0 else w
        self.W = w.toarray() if n <= linalg.DENSE_MAX_UNITS else scipy.sparse.csr_array(w)
        self._WT = None
        self._measured_sr = None
        # input matrix
        d = int(input_dim)
        nnz_in = max(1, round(self.input_connectivity * n * d))
        flat = in_rng.choice(n * d, size=nnz_in, replace=False)
        if self.input_weights == "bernoulli":
            vals = in_rng.choice(np.array([1.0, -1.0]), size=nnz_in)
        else:
            vals = in_rng.uniform(-1.0, 1.0, size=nnz_in)
        w_in = np.zeros(n * d)
        w_in[flat] = vals
        self.W_in = w_in.reshape(n, d) * np.asarray(self.input_scaling, dtype=np.float64)
        self.bias = b_rng.uniform(-1.0, 1.0, size=n) * self.bias_scaling
        self.input_dim = d
        return self

    # -- running -----------------------------------------------------------------------

    def _recurrent(self, x: np.ndarray) -> np.ndarray:
        """``W @ x`` for a batch of row states (B, N)."""
        if scipy.sparse.issparse(self.W):
            return (self.W @ x.T).T
        if self._WT is None:
            self._WT = np.ascontiguousarray(self.W.T)
        return x @ self._WT

    def run_batch(
        self, u: np.ndarray, lengths: np.ndarray, x0: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """States for a padded batch: ``u`` (B, T, D) -> (states (B, T, N), final (B, N)).

        Past a sequence's length its state is frozen, so ``final`` is the state after its
        last real step; padded steps of ``states`` repeat that state.
        """
        if not self.built:
            self.build(u.shape[2])
        f = _ACTIVATIONS[self.activation]
        b, t_max, _ = u.shape
        n = self.units
        x = np.zeros((b, n)) if x0 is None else np.array(x0, dtype=np.float64, copy=True)
        # Longest sequences first: at step t only the first active[t] rows still run, so
        # padding costs nothing (frozen rows are just copied).
        order = np.argsort(-lengths, kind="stable")
        permuted = bool(np.any(order != np.arange(b)))
        if permuted:
            u, lengths, x = u[order], lengths[order], x[order]
        active = (lengths[None, :] > np.arange(t_max)[:, None]).sum(axis=1)
        drive = u @ self.W_in.T + self.bias  # (B, T, N): the input part of every step at once
        states = np.empty((b, t_max, n))
        a = self.leak_rate
        for t in range(t_max):
            k = int(active[t])
            xa = x if k == b else x[:k]
            pre = drive[:k, t] + self._recurrent(xa)
            if a == 1.0:
                xa[...] = f(pre)
            else:
                xa += a * (f(pre) - xa)
            states[:, t] = x
        if permuted:
            inverse = np.argsort(order)
            states, x = states[inverse], x[inverse]
        return states, x

    def step(self, u: np.ndarray, x: np.ndarray) -> np.ndarray:
        """One update for a batch: ``u`` (B, D), ``x`` (B, N) -> new state (B, N)."""
        f = _ACTIVATIONS[self.activation]
        pre = u @ self.W_in.T + self.bias + self._recurrent(x)
        return (1.0 - self.leak_rate) * x + self.leak_rate * f(pre)

    def states(
        self, x: Any, lengths: Any = None, initial_state: np.ndarray | None = None
    ) -> np.ndarray | list[np.ndarray]:
        """Reservoir states for ``x``, shaped like ``x`` with ``units`` features.

        >>> Reservoir(units=8, seed=1).states([np.ones((3, 1)), np.ones((5, 1))])[1].shape
        (5, 8)
        """
        u, lens, kind = as_batch(x, lengths, "x", self.input_dim)
        states, _ = self.run_batch(u, lens, initial_state)
        return give_back(states, lens, kind)

    # -- persistence -------------------------------------------------------------------

    def tensors(self, prefix: str = "") -> dict[str, np.ndarray]:
        """The matrices as named arrays (``W`` as CSR parts, so big sparse ones stay small)."""
        if not self.built:
            raise ValueError("the reservoir is not built yet; fit or run the model first")
        w = scipy.sparse.csr_array(self.W)
        return {
            f"{prefix}W.data": np.ascontiguousarray(w.data, dtype=np.float64),
            f"{prefix}W.indices": np.ascontiguousarray(w.indices, dtype=np.int64),
            f"{prefix}W.indptr": np.ascontiguousarray(w.indptr, dtype=np.int64),
            f"{prefix}W_in": np.ascontiguousarray(self.W_in),
            f"{prefix}bias": np.ascontiguousarray(self.bias),
        }

    def load_tensors(self, tensors: dict[str, np.ndarray], prefix: str = "") -> None:
        """Restore the matrices written by :meth:`tensors` (exactly, not re-drawn)."""
        n = self.units
        w = scipy.sparse.csr_array(
            (
                tensors[f"{prefix}W.data"],
                tensors[f"{prefix}W.indices"],
                tensors[f"{prefix}W.indptr"],
            ),
            shape=(n, n),
        )
        self.W = w.toarray() if n <= linalg.DENSE_MAX_UNITS else w
        self._WT = None
        self.W_in = np.asarray(tensors[f"{prefix}W_in"], dtype=np.float64)
        self.bias = np.asarray(tensors[f"{prefix}bias"], dtype=np.float64)
        self.input_dim = self.W_in.shape[1]
        self._measured_sr = None


#: The :class:`ReservoirOptions` with :class:`Reservoir`'s defaults.
RESERVOIR_DEFAULTS: ReservoirOptions = {
    name: param.default
    for name, param in inspect.signature(Reservoir).parameters.items()
    if name in ReservoirOptions.__annotations__
}
