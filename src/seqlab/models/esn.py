"""Echo state networks: a fixed random reservoir and a linear readout fitted in closed form.

The reservoir is a leaky-integrator recurrent layer whose weights are drawn once and never
trained; only the readout is learned, by ridge regression (or online, by recursive least
squares). Everything runs in numpy float64, batched over sequences of different lengths.

    x[t] = (1 - a) * x[t-1] + a * f(W_in @ u[t] + W @ x[t-1] + b)      (reservoir, x[-1] = 0)
    y[t] = W_out @ [1; x[t]]           or  W_out @ [1; u[t]; x[t]]      (readout)

``a`` is the leak rate ``lr``, ``f`` the activation, ``W`` is rescaled so that its spectral
radius (largest eigenvalue modulus, measured on the built matrix) is exactly ``sr``.
The readout is ``W_out = Y^T Phi (Phi^T Phi + ridge * R)^-1`` where ``Phi`` stacks the
feature rows ``[1; x]`` of every training step after the warm-up and ``R`` is the identity
with a 0 for the bias, so the intercept is not shrunk (as in reservoirpy's ``Ridge``).

Why numpy and not torch: nothing here is trained by gradient, the step loop is sequential,
and for reservoirs of a few hundred units numpy's per-call overhead is several times lower
than torch's on a CPU, which is where these models are used.

The API follows reservoirpy (``ESN(units=..., sr=..., lr=...).fit(x, y, warmup=...)`` and
``.run(x)``); like reservoirpy the model is *stateful*: ``fit`` and ``run`` leave the last
reservoir state in ``state_`` and the next ``run`` continues from it, which is what a test
segment that directly follows the training segment needs. Pass ``reset=True`` to start
from zeros.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import scipy.linalg
import scipy.sparse
import scipy.sparse.linalg
from scipy.special import expit

from seqlab._utils import PathLike, atomic_write_bytes, atomic_write_json, read_json

__all__ = [
    "ESN",
    "ESNClassifier",
    "Reservoir",
    "embed_tokens",
    "ridge_solve",
    "spectral_radius",
]

_ACTIVATIONS = {
    "tanh": np.tanh,
    "sigmoid": expit,
    "relu": lambda z: np.maximum(z, 0.0),
    "identity": lambda z: z,
}
# Reservoirs up to this size use a dense W (faster matvecs, exact eigenvalues with LAPACK);
# larger ones are stored sparse and their spectral radius comes from ARPACK (eigs).
DENSE_MAX_UNITS = 1000


# --------------------------------------------------------------------------------------
# Input handling: single series (T, D), padded batch (B, T, D) + lengths, or a ragged list
# --------------------------------------------------------------------------------------


def _as_batch(
    x: Any, lengths: Any = None, name: str = "x", dim: int | None = None
) -> tuple[np.ndarray, np.ndarray, str]:
    """Return ``(X (B, T, D) float64, lengths (B,) int64, kind)``; kind says how to give back.

    kind is "single" for a (T,) or (T, D) series, "batch" for a padded (B, T, D) array and
    "list" for a list of (T_i, D) arrays.
    """
    if isinstance(x, list | tuple) and len(x) > 0 and np.ndim(x[0]) >= 1:
        seqs = [np.asarray(s, dtype=np.float64) for s in x]
        seqs = [s[:, None] if s.ndim == 1 else s for s in seqs]
        for i, s in enumerate(seqs):
            if s.ndim != 2:
                raise ValueError(
                    f"{name}[{i}] has shape {s.shape}; each sequence must be (timesteps, features)"
                )
        feats = {s.shape[1] for s in seqs}
        if len(feats) != 1:
            raise ValueError(
                f"the sequences in {name} have different feature sizes {sorted(feats)}; "
                "every sequence must have the same number of features"
            )
        if lengths is not None:
            raise ValueError(
                "lengths is only used with a padded (batch, time, features) array; "
                f"{name} is a list, whose sequences already carry their lengths"
            )
        lens = np.array([len(s) for s in seqs], dtype=np.int64)
        out = np.zeros((len(seqs), int(lens.max()), seqs[0].shape[1]))
        for i, s in enumerate(seqs):
            out[i, : len(s)] = s
        kind = "list"
    else:
        arr = np.asarray(x, dtype=np.float64)
        if arr.ndim == 1:
            arr = arr[:, None]
        if arr.ndim == 2:
            if lengths is not None:
                raise ValueError(
                    f"lengths was given but {name} is a single series of shape {arr.shape}; "
                    "pass a (batch, time, features) array to use lengths"
                )
            out, lens, kind = arr[None], np.array([arr.shape[0]], dtype=np.int64), "single"
        elif arr.ndim == 3:
            out, kind = arr, "batch"
            if lengths is None:
                lens = np.full(arr.shape[0], arr.shape[1], dtype=np.int64)
            else:
                lens = np.asarray(lengths, dtype=np.int64).reshape(-1)
                if lens.shape[0] != arr.shape[0]:
                    raise ValueError(
                        f"lengths has {lens.shape[0]} entries but {name} has {arr.shape[0]} "
                        "sequences; give one length per sequence"
                    )
                if lens.min() < 1 or lens.max() > arr.shape[1]:
                    raise ValueError(
                        f"lengths must lie in [1, {arr.shape[1]}] (the padded time axis of {name}), "
                        f"got min {lens.min()} and max {lens.max()}"
                    )
        else:
            raise ValueError(
                f"{name} must be (time,), (time, features), (batch, time, features) or a list "
                f"of (time, features) arrays; got an array of shape {arr.shape}"
            )
    if out.shape[0] == 0 or out.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {out.shape}); give at least one timestep")
    if dim is not None and out.shape[2] != dim:
        raise ValueError(
            f"{name} has {out.shape[2]} features per timestep but the model was built for {dim}; "
            f"pass inputs with {dim} features (or build a new model)"
        )
    if not np.all(np.isfinite(out)):
        raise ValueError(f"{name} contains NaN or infinite values; clean or impute them first")
    return out, lens, kind


def _give_back(out: np.ndarray, lens: np.ndarray, kind: str) -> np.ndarray | list[np.ndarray]:
    """Shape per-step outputs (B, T, O) like the input they came from."""
    if kind == "single":
        return out[0]
    if kind == "list":
        return [out[i, : lens[i]] for i in range(out.shape[0])]
    mask = np.arange(out.shape[1])[None, :] < lens[:, None]
    return np.where(mask[..., None], out, 0.0)


def _valid_rows(arr: np.ndarray, lens: np.ndarray, warmup: int) -> np.ndarray:
    """Stack the rows ``arr[b, warmup:lens[b]]`` of every sequence: (N, F)."""
    return np.concatenate([arr[b, warmup : lens[b]] for b in range(arr.shape[0])], axis=0)


# --------------------------------------------------------------------------------------
# Linear algebra
# --------------------------------------------------------------------------------------


def spectral_radius(matrix: np.ndarray | scipy.sparse.spmatrix | scipy.sparse.sparray) -> float:
    """Largest eigenvalue modulus of a square matrix.

    Dense matrices and sparse ones up to ``DENSE_MAX_UNITS`` rows use all eigenvalues
    (LAPACK); larger sparse ones use ARPACK (``scipy.sparse.linalg.eigs``, the 10 largest in
    magnitude) with a dense fallback when ARPACK does not converge.

    >>> round(spectral_radius(np.array([[0.0, 2.0], [-2.0, 0.0]])), 12)
    2.0
    """
    n = matrix.shape[0]
    if matrix.ndim != 2 or matrix.shape[1] != n:
        raise ValueError(f"matrix must be square, got shape {matrix.shape}")
    if not scipy.sparse.issparse(matrix) or n <= max(DENSE_MAX_UNITS, 12):
        dense = matrix.toarray() if scipy.sparse.issparse(matrix) else np.asarray(matrix)
        return float(np.max(np.abs(np.linalg.eigvals(dense)))) if n else 0.0
    # k=1 is not enough: a random matrix has many eigenvalues near its spectral circle and
    # ARPACK asked for one may settle on a slightly smaller one (0.5% off was seen at
    # n=1200); asking for 10 with a wider Krylov space finds the true maximum.
    k = min(10, n - 2)
    try:
        vals = scipy.sparse.linalg.eigs(
            matrix,
            k=k,
            ncv=min(n - 1, max(2 * k + 1, 40)),
            which="LM",
            return_eigenvectors=False,
            maxiter=n * 20,
            tol=0,
        )
        return float(np.abs(vals).max())
    except scipy.sparse.linalg.ArpackNoConvergence:
        warnings.warn(
            f"ARPACK did not converge on the {n}x{n} reservoir matrix; "
            "computing all eigenvalues instead (slow)",
            RuntimeWarning,
            stacklevel=2,
        )
        return float(np.max(np.abs(np.linalg.eigvals(matrix.toarray()))))


def _ridge_gram(features: np.ndarray, ridge: float) -> np.ndarray:
    """``Phi^T Phi + ridge * R`` with ``R = diag(0, 1, ..., 1)`` (bias column unpenalised)."""
    if ridge < 0:
        raise ValueError(f"ridge must be >= 0, got {ridge}")
    gram = features.T @ features
    idx = np.arange(1, gram.shape[0])
    gram[idx, idx] += ridge
    return gram


def _solve_gram(gram: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", scipy.linalg.LinAlgWarning)
            sol = scipy.linalg.solve(gram, rhs, assume_a="sym")
    except (np.linalg.LinAlgError, scipy.linalg.LinAlgError, scipy.linalg.LinAlgWarning):
        # singular (e.g. ridge=0 with collinear states): least squares still gives an answer
        sol = np.linalg.lstsq(gram, rhs, rcond=None)[0]
    return sol.T.copy()


def ridge_solve(features: np.ndarray, targets: np.ndarray, ridge: float) -> np.ndarray:
    """Ridge readout in closed form, the first feature column being the unpenalised bias.

    Solves ``(Phi^T Phi + ridge * R) W^T = Phi^T Y`` with ``R = diag(0, 1, ..., 1)`` and
    returns ``W`` of shape (outputs, features). With ``ridge=0`` it is ordinary least squares
    (falling back to ``lstsq`` when ``Phi^T Phi`` is singular).

    >>> phi = np.c_[np.ones(4), [0.0, 1.0, 2.0, 3.0]]
    >>> ridge_solve(phi, np.array([[1.0], [3.0], [5.0], [7.0]]), 0.0).round(6).tolist()
    [[1.0, 2.0]]
    """
    return _solve_gram(_ridge_gram(features, ridge), features.T @ targets)


# --------------------------------------------------------------------------------------
# Reservoir
# --------------------------------------------------------------------------------------


class Reservoir:
    """A fixed random leaky-integrator recurrent layer (no readout).

    ``x[t] = (1 - lr) * x[t-1] + lr * f(W_in @ u[t] + W @ x[t-1] + b)``

    * ``W`` (units, units): ``round(rc_connectivity * units**2)`` non-zero entries at random
      places, drawn from N(0, 1), then rescaled so that its measured spectral radius is ``sr``.
    * ``W_in`` (units, input_dim): ``round(input_connectivity * units * input_dim)`` non-zero
      entries (at least one), +-1 with equal odds (``input_weights="bernoulli"``, as
      reservoirpy) or U(-1, 1) (``"uniform"``), times ``input_scaling`` (a float or one value
      per input feature).
    * ``b`` (units,): U(-1, 1) times ``bias_scaling`` (0 = no bias, reservoirpy's default).

    The three matrices use three generators spawned from one ``numpy.random.SeedSequence(seed)``,
    so ``W`` does not depend on the input size and the same seed gives the same reservoir.
    ``W_in`` is built on first use, when the input size is known (or give ``input_dim``).

    >>> res = Reservoir(units=50, sr=0.9, seed=0)
    >>> round(res.build(input_dim=2).spectral_radius_, 6)
    0.9
    >>> res.states(np.zeros((10, 2))).shape
    (10, 50)
    """

    def __init__(
        self,
        units: int = 100,
        sr: float = 1.0,
        lr: float = 1.0,
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
        if not 0.0 < lr <= 1.0:
            raise ValueError(f"lr (leak rate) must be in (0, 1], got {lr}")
        if sr < 0:
            raise ValueError(f"sr (spectral radius) must be >= 0, got {sr}")
        for pname, val in (
            ("rc_connectivity", rc_connectivity),
            ("input_connectivity", input_connectivity),
        ):
            if not 0.0 < val <= 1.0:
                raise ValueError(f"{pname} must be in (0, 1], got {val}")
        if activation not in _ACTIVATIONS:
            raise ValueError(
                f"activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}"
            )
        if input_weights not in ("bernoulli", "uniform"):
            raise ValueError(
                f"input_weights must be 'bernoulli' or 'uniform', got {input_weights!r}"
            )
        if bias_scaling < 0:
            raise ValueError(f"bias_scaling must be >= 0, got {bias_scaling}")
        self.units = int(units)
        self.sr = float(sr)
        self.lr = float(lr)
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
            "sr": self.sr,
            "lr": self.lr,
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
            self._measured_sr = spectral_radius(self.W)
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
        radius = spectral_radius(w)
        if self.sr > 0 and radius < 1e-12:
            raise ValueError(
                f"the random recurrent matrix has spectral radius 0 (rc_connectivity="
                f"{self.rc_connectivity} is too sparse for {n} units to form a cycle); "
                "raise rc_connectivity or units"
            )
        w = w * (self.sr / radius) if radius > 0 else w
        self.W = w.toarray() if n <= DENSE_MAX_UNITS else scipy.sparse.csr_array(w)
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
        a = self.lr
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
        return (1.0 - self.lr) * x + self.lr * f(pre)

    def states(
        self, x: Any, lengths: Any = None, initial_state: np.ndarray | None = None
    ) -> np.ndarray | list[np.ndarray]:
        """Reservoir states for ``x``, shaped like ``x`` with ``units`` features.

        >>> Reservoir(units=8, seed=1).states([np.ones((3, 1)), np.ones((5, 1))])[1].shape
        (5, 8)
        """
        u, lens, kind = _as_batch(x, lengths, "x", self.input_dim)
        states, _ = self.run_batch(u, lens, initial_state)
        return _give_back(states, lens, kind)

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
        self.W = w.toarray() if n <= DENSE_MAX_UNITS else w
        self._WT = None
        self.W_in = np.asarray(tensors[f"{prefix}W_in"], dtype=np.float64)
        self.bias = np.asarray(tensors[f"{prefix}bias"], dtype=np.float64)
        self.input_dim = self.W_in.shape[1]
        self._measured_sr = None


_RESERVOIR_KEYS = (
    "units",
    "sr",
    "lr",
    "input_scaling",
    "bias_scaling",
    "rc_connectivity",
    "input_connectivity",
    "activation",
    "input_weights",
    "seed",
)


def _save(path: PathLike, kind: str, config: dict, extra: dict, tensors: dict) -> Path:
    from safetensors.numpy import save as st_save

    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(folder / "model.safetensors", st_save(tensors))
    atomic_write_json(folder / "config.json", {"class": kind, "config": config, **extra})
    return folder


def _load(path: PathLike, kind: str) -> tuple[dict, dict[str, np.ndarray]]:
    from safetensors.numpy import load as st_load

    folder = Path(path)
    if not (folder / "config.json").is_file() or not (folder / "model.safetensors").is_file():
        raise FileNotFoundError(
            f"{folder} is not a saved {kind}: expected config.json and model.safetensors in it "
            f"(written by {kind}.save)"
        )
    meta = read_json(folder / "config.json")
    if meta.get("class") != kind:
        raise ValueError(
            f"{folder} holds a {meta.get('class')!r}, not a {kind}; use {meta.get('class')}.load"
        )
    return meta, st_load((folder / "model.safetensors").read_bytes())


# --------------------------------------------------------------------------------------
# ESN: reservoir + linear readout, for regression / forecasting
# --------------------------------------------------------------------------------------


class ESN:
    """Echo state network for sequence-to-sequence regression and forecasting.

    Update equations (``a`` = ``lr``, ``f`` = ``activation``)::

        x[t] = (1 - a) x[t-1] + a f(W_in u[t] + W x[t-1] + b)
        y[t] = W_out [1; x[t]]             (input_to_readout=False)
        y[t] = W_out [1; u[t]; x[t]]       (input_to_readout=True)

    ``W_out`` (outputs, 1 + features) is fitted by ridge regression in closed form on the
    teacher-forced states after ``warmup`` steps of each training sequence
    (``readout="ridge"``), or sample by sample with recursive least squares
    (``readout="rls"``: ``P`` starts at ``I / ridge``, ``forgetting`` in (0, 1] discounts old
    samples; :meth:`partial_fit` keeps learning online). See :class:`Reservoir` for how the
    random matrices are drawn from ``seed`` and how ``sr`` is set exactly.

    Inputs: a (T, D) series (a (T,) one means D=1), a padded (B, T, D) batch with
    ``lengths``, or a list of (T_i, D) arrays; outputs come back in the same layout.

    >>> import numpy as np
    >>> t = np.arange(600)
    >>> u = np.sin(2 * np.pi * t / 50)[:, None]
    >>> esn = ESN(units=50, sr=0.9, lr=0.5, ridge=1e-6, seed=0).fit(u[:-1], u[1:], warmup=50)
    >>> esn.run(u[:-1], reset=True).shape
    (599, 1)
    >>> esn.generate(20, warmup_inputs=u[:100]).shape
    (20, 1)
    """

    def __init__(
        self,
        units: int = 100,
        sr: float = 1.0,
        lr: float = 1.0,
        input_scaling: float | Sequence[float] = 1.0,
        bias_scaling: float = 0.0,
        rc_connectivity: float = 0.1,
        input_connectivity: float = 0.1,
        activation: str = "tanh",
        input_weights: str = "bernoulli",
        ridge: float = 1e-6,
        input_to_readout: bool = False,
        readout: str = "ridge",
        forgetting: float = 1.0,
        seed: int | None = 0,
    ) -> None:
        if ridge < 0:
            raise ValueError(f"ridge must be >= 0, got {ridge}")
        if readout not in ("ridge", "rls"):
            raise ValueError(f"readout must be 'ridge' or 'rls', got {readout!r}")
        if readout == "rls" and ridge <= 0:
            raise ValueError(
                f"readout='rls' needs ridge > 0 (P starts at I / ridge), got ridge={ridge}"
            )
        if not 0.0 < forgetting <= 1.0:
            raise ValueError(f"forgetting must be in (0, 1], got {forgetting}")
        self.reservoir = Reservoir(
            units=units,
            sr=sr,
            lr=lr,
            input_scaling=input_scaling,
            bias_scaling=bias_scaling,
            rc_connectivity=rc_connectivity,
            input_connectivity=input_connectivity,
            activation=activation,
            input_weights=input_weights,
            seed=seed,
        )
        self.ridge = float(ridge)
        self.input_to_readout = bool(input_to_readout)
        self.readout = readout
        self.forgetting = float(forgetting)
        self.config: dict[str, Any] = {
            **{k: v for k, v in self.reservoir.config.items() if k != "input_dim"},
            "ridge": self.ridge,
            "input_to_readout": self.input_to_readout,
            "readout": readout,
            "forgetting": self.forgetting,
        }
        self.W_out: np.ndarray | None = None
        self.state_: np.ndarray | None = None
        self.last_output_: np.ndarray | None = None
        self.P_: np.ndarray | None = None
        self._gram: np.ndarray | None = None

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config.items())
        return f"ESN({args})"

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
        u, lens, kind = _as_batch(x, lengths, "x", self.input_dim)
        tgt, tlens, _ = _as_batch(y, lengths, "y", self.output_dim)
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
        u, tgt, lens, _ = self._prepare_xy(x, y, lengths, warmup)
        if not self.reservoir.built:
            self.reservoir.build(u.shape[2])
        states, final = self.reservoir.run_batch(u, lens, self._start_state(u.shape[0], reset))
        phi = _valid_rows(self._features(states, u), lens, warmup)
        target = _valid_rows(tgt, lens, warmup)
        if self.readout == "ridge":
            # kept so that partial_fit can continue this exact least-squares problem online
            self._gram = _ridge_gram(phi, self.ridge)
            self.W_out = _solve_gram(self._gram, phi.T @ target)
            self.P_ = None
        else:
            self.W_out = np.zeros((target.shape[1], phi.shape[1]))
            self.P_ = np.eye(phi.shape[1]) / self.ridge
            self._rls(phi, target)
        self.state_ = final
        last_u = u[np.arange(u.shape[0]), lens - 1]
        self.last_output_ = self._features(final, last_u) @ self.W_out.T
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
        u, tgt, lens, _ = self._prepare_xy(x, y, lengths, warmup)
        if not self.reservoir.built:
            self.reservoir.build(u.shape[2])
        states, final = self.reservoir.run_batch(u, lens, self._start_state(u.shape[0], reset))
        phi = _valid_rows(self._features(states, u), lens, warmup)
        target = _valid_rows(tgt, lens, warmup)
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
        self.state_ = final
        last_u = u[np.arange(u.shape[0]), lens - 1]
        self.last_output_ = self._features(final, last_u) @ self.W_out.T
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
        u, lens, kind = _as_batch(x, lengths, "x", self.input_dim)
        states, final = self.reservoir.run_batch(u, lens, self._start_state(u.shape[0], reset))
        out = self._features(states, u) @ self.W_out.T
        self.state_ = final
        self.last_output_ = out[np.arange(u.shape[0]), lens - 1]
        if return_states:
            return _give_back(out, lens, kind), _give_back(states, lens, kind)
        return _give_back(out, lens, kind)

    predict = run

    def generate(self, n_steps: int, warmup_inputs: Any = None, lengths: Any = None) -> np.ndarray:
        """Closed-loop (generative) forecast: each output is fed back as the next input.

        With ``warmup_inputs`` (T, D) the state is reset and driven by them first
        (teacher-forced); the result is then the forecast of the ``n_steps`` values that
        follow them: ``[u[T], u[T+1], ...]``. Without, it continues from the last fit/run.
        Needs outputs of the same size as inputs (a one-step-ahead model).
        Returns (n_steps, D), or (B, n_steps, D) for a batch of warm-up sequences.

        >>> u = np.sin(np.arange(400) / 8.0)[:, None]
        >>> esn = ESN(units=40, sr=0.9, seed=0).fit(u[:-1], u[1:], warmup=20)
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
            u, lens, kind = _as_batch(warmup_inputs, lengths, "warmup_inputs", self.input_dim)
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
        tensors = self.reservoir.tensors("reservoir.")
        tensors["W_out"] = np.ascontiguousarray(self.W_out)
        for name in ("state_", "last_output_", "P_"):
            val = getattr(self, name)
            if val is not None:
                tensors[name] = np.ascontiguousarray(val)
        return _save(path, "ESN", self.config, {"input_dim": self.input_dim}, tensors)

    @classmethod
    def load(cls, path: PathLike) -> ESN:
        """Rebuild a model written by :meth:`save` (same matrices, readout and state)."""
        meta, tensors = _load(path, "ESN")
        model = cls(**meta["config"])
        model.reservoir.load_tensors(tensors, "reservoir.")
        model.W_out = tensors["W_out"]
        model.state_ = tensors.get("state_")
        model.last_output_ = tensors.get("last_output_")
        model.P_ = tensors.get("P_")
        return model


# --------------------------------------------------------------------------------------
# ESN classifier: readout on a summary of the states of each sequence
# --------------------------------------------------------------------------------------


_STATE_SUMMARIES = ("last", "mean", "mean+last", "concat")


class ESNClassifier:
    """Sequence classifier: a reservoir summarises each sequence, a ridge readout classifies.

    The states of every sequence (run from a zero state, respecting its length) are reduced
    to one feature vector by ``readout_state``:

    * ``"last"``: the state after the last step; ``"mean"``: the mean state over the steps;
    * ``"mean+last"``: both, concatenated;
    * ``"concat"``: the states at ``n_points`` evenly spaced steps, concatenated.

    ``bidirectional=True`` also runs the same reservoir over each sequence reversed and
    concatenates both summaries. ``scale_inputs=True`` standardises every input feature with
    the mean / std of the training data first. The readout is ridge regression on one-hot
    targets; the predicted class is the largest score. Labels may be ints or strings
    (``classes_`` holds them, sorted).

    Works on numeric sequences and on text once tokens are mapped to vectors
    (see :func:`embed_tokens`): ``fit(x, labels, lengths=...)`` with x (B, T, D).

    >>> rng = np.random.default_rng(0)
    >>> seqs = [rng.normal(size=(int(rng.integers(5, 15)), 2)) + (i % 2) for i in range(40)]
    >>> labels = [i % 2 for i in range(40)]
    >>> clf = ESNClassifier(units=50, seed=0).fit(seqs, labels)
    >>> clf.score(seqs, labels) > 0.9
    True
    """

    def __init__(
        self,
        units: int = 500,
        sr: float = 0.9,
        lr: float = 0.3,
        input_scaling: float | Sequence[float] = 0.5,
        bias_scaling: float = 0.1,
        rc_connectivity: float = 0.1,
        input_connectivity: float = 0.5,
        activation: str = "tanh",
        input_weights: str = "bernoulli",
        ridge: float = 0.1,
        readout_state: str = "mean+last",
        n_points: int = 5,
        bidirectional: bool = False,
        scale_inputs: bool = True,
        seed: int | None = 0,
    ) -> None:
        if readout_state not in _STATE_SUMMARIES:
            raise ValueError(
                f"readout_state must be one of {list(_STATE_SUMMARIES)}, got {readout_state!r}"
            )
        if n_points < 1:
            raise ValueError(f"n_points must be >= 1, got {n_points}")
        if ridge < 0:
            raise ValueError(f"ridge must be >= 0, got {ridge}")
        self.reservoir = Reservoir(
            units=units,
            sr=sr,
            lr=lr,
            input_scaling=input_scaling,
            bias_scaling=bias_scaling,
            rc_connectivity=rc_connectivity,
            input_connectivity=input_connectivity,
            activation=activation,
            input_weights=input_weights,
            seed=seed,
        )
        self.ridge = float(ridge)
        self.readout_state = readout_state
        self.n_points = int(n_points)
        self.bidirectional = bool(bidirectional)
        self.scale_inputs = bool(scale_inputs)
        self.config: dict[str, Any] = {
            **{k: v for k, v in self.reservoir.config.items() if k != "input_dim"},
            "ridge": self.ridge,
            "readout_state": readout_state,
            "n_points": self.n_points,
            "bidirectional": self.bidirectional,
            "scale_inputs": self.scale_inputs,
        }
        self.W_out: np.ndarray | None = None
        self.classes_: list | None = None
        self.input_mean_: np.ndarray | None = None
        self.input_std_: np.ndarray | None = None

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config.items())
        return f"ESNClassifier({args})"

    def _summary(self, states: np.ndarray, lens: np.ndarray) -> np.ndarray:
        b = states.shape[0]
        rows = np.arange(b)
        last = states[rows, lens - 1]
        if self.readout_state == "last":
            return last
        mask = (np.arange(states.shape[1])[None, :] < lens[:, None])[..., None]
        mean = (states * mask).sum(axis=1) / lens[:, None]
        if self.readout_state == "mean":
            return mean
        if self.readout_state == "mean+last":
            return np.concatenate([mean, last], axis=1)
        # evenly spaced steps 0 .. len-1 of each sequence
        pos = np.rint(np.linspace(0.0, 1.0, self.n_points)[None, :] * (lens[:, None] - 1))
        picked = states[rows[:, None], pos.astype(np.int64)]  # (B, n_points, N)
        return picked.reshape(b, -1)

    def features(self, x: Any, lengths: Any = None) -> np.ndarray:
        """One feature vector per sequence: (B, F), without the bias column.

        >>> clf = ESNClassifier(units=10, readout_state="mean+last", scale_inputs=False)
        >>> clf.features([np.ones((4, 3))]).shape
        (1, 20)
        """
        u, lens, _ = _as_batch(x, lengths, "x", self.reservoir.input_dim)
        if self.input_mean_ is not None:
            u = (u - self.input_mean_) / self.input_std_
        if not self.reservoir.built:
            self.reservoir.build(u.shape[2])
        states, _ = self.reservoir.run_batch(u, lens)
        feats = [self._summary(states, lens)]
        if self.bidirectional:
            # reverse each sequence inside its own length, so padding stays at the end
            idx = lens[:, None] - 1 - np.arange(u.shape[1])[None, :]
            idx = np.where(idx >= 0, idx, 0)
            rev = u[np.arange(u.shape[0])[:, None], idx]
            rstates, _ = self.reservoir.run_batch(rev, lens)
            feats.append(self._summary(rstates, lens))
        return np.concatenate(feats, axis=1)

    def fit(self, x: Any, labels: Any, lengths: Any = None) -> ESNClassifier:
        """Fit the ridge readout on the summarised states of the training sequences."""
        labels = list(np.asarray(labels).tolist()) if not isinstance(labels, list) else labels
        u, lens, _ = _as_batch(x, lengths, "x", None)
        if len(labels) != u.shape[0]:
            raise ValueError(
                f"got {len(labels)} labels for {u.shape[0]} sequences; give one label per sequence"
            )
        self.classes_ = sorted(set(labels))
        if len(self.classes_) < 2:
            raise ValueError(f"need at least 2 classes to classify, got {self.classes_}")
        if self.scale_inputs:
            valid = _valid_rows(u, lens, 0)
            self.input_mean_ = valid.mean(axis=0)
            std = valid.std(axis=0)
            self.input_std_ = np.where(std > 0, std, 1.0)
        else:
            self.input_mean_ = self.input_std_ = None
        feats = self.features(u, lens)
        index = {c: i for i, c in enumerate(self.classes_)}
        onehot = np.zeros((len(labels), len(self.classes_)))
        onehot[np.arange(len(labels)), [index[v] for v in labels]] = 1.0
        phi = np.concatenate([np.ones((feats.shape[0], 1)), feats], axis=1)
        self.W_out = ridge_solve(phi, onehot, self.ridge)
        return self

    def decision_function(self, x: Any, lengths: Any = None) -> np.ndarray:
        """Readout scores (B, n_classes); columns follow ``classes_``."""
        if self.W_out is None:
            raise ValueError("this ESNClassifier is not fitted yet; call fit(x, labels) first")
        feats = self.features(x, lengths)
        return feats @ self.W_out[:, 1:].T + self.W_out[:, 0]

    def predict(self, x: Any, lengths: Any = None) -> np.ndarray:
        """Predicted labels (B,), taken from ``classes_``."""
        scores = self.decision_function(x, lengths)
        return np.asarray(self.classes_)[scores.argmax(axis=1)]

    def score(self, x: Any, labels: Any, lengths: Any = None) -> float:
        """Accuracy on ``(x, labels)``."""
        pred = self.predict(x, lengths)
        return float(np.mean(pred == np.asarray(labels)))

    def save(self, path: PathLike) -> Path:
        """Write ``config.json`` (with ``classes_``) and ``model.safetensors`` to ``path``."""
        if self.W_out is None:
            raise ValueError("this ESNClassifier is not fitted yet; call fit(x, labels) first")
        tensors = self.reservoir.tensors("reservoir.")
        tensors["W_out"] = np.ascontiguousarray(self.W_out)
        if self.input_mean_ is not None:
            tensors["input_mean_"] = np.ascontiguousarray(self.input_mean_)
            tensors["input_std_"] = np.ascontiguousarray(self.input_std_)
        return _save(path, "ESNClassifier", self.config, {"classes": self.classes_}, tensors)

    @classmethod
    def load(cls, path: PathLike) -> ESNClassifier:
        """Rebuild a classifier written by :meth:`save`."""
        meta, tensors = _load(path, "ESNClassifier")
        model = cls(**meta["config"])
        model.reservoir.load_tensors(tensors, "reservoir.")
        model.W_out = tensors["W_out"]
        model.classes_ = meta["classes"]
        model.input_mean_ = tensors.get("input_mean_")
        model.input_std_ = tensors.get("input_std_")
        return model


def embed_tokens(tokens: Any, embedding: Any, lengths: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Map token-id sequences through an embedding matrix: -> (x (B, T, D), lengths (B,)).

    ``tokens`` is a list of 1-D id arrays (ragged) or a (B, T) array post-padded with 0
    (seqlab's convention: id 0 is padding); without ``lengths`` the length of a padded row
    runs up to its last non-zero id. ``embedding`` is a (vocab_size, D) array (e.g. GloVe
    rows aligned with a :class:`seqlab.text.Vocabulary`). Padded steps are zero vectors.
    The result feeds :class:`ESNClassifier` (``fit(x, labels, lengths=lengths)``).

    >>> emb = np.arange(12, dtype=float).reshape(6, 2)
    >>> x, lens = embed_tokens([[2, 3, 4], [5]], emb)
    >>> x.shape, lens.tolist(), x[1, 0].tolist()
    ((2, 3, 2), [3, 1], [10.0, 11.0])
    """
    emb = np.asarray(embedding, dtype=np.float64)
    if emb.ndim != 2:
        raise ValueError(f"embedding must be a (vocab_size, dim) matrix, got shape {emb.shape}")
    if isinstance(tokens, list | tuple):
        seqs = [np.asarray(s, dtype=np.int64).reshape(-1) for s in tokens]
        if lengths is not None:
            raise ValueError("lengths is only used with a padded (B, T) token array, not a list")
        lens = np.array([len(s) for s in seqs], dtype=np.int64)
        padded = np.zeros((len(seqs), max(1, int(lens.max(initial=0)))), dtype=np.int64)
        for i, s in enumerate(seqs):
            padded[i, : len(s)] = s
    else:
        padded = np.asarray(tokens, dtype=np.int64)
        if padded.ndim != 2:
            raise ValueError(
                f"tokens must be a (batch, time) id array or a list, got shape {padded.shape}"
            )
        if lengths is None:
            nonzero = padded != 0
            lens = np.where(
                nonzero.any(axis=1), padded.shape[1] - np.argmax(nonzero[:, ::-1], axis=1), 0
            ).astype(np.int64)
        else:
            lens = np.asarray(lengths, dtype=np.int64).reshape(-1)
    if padded.size and (padded.min() < 0 or padded.max() >= emb.shape[0]):
        raise ValueError(
            f"token ids must lie in [0, {emb.shape[0] - 1}] (the embedding has {emb.shape[0]} "
            f"rows); got ids from {padded.min()} to {padded.max()}"
        )
    if np.any(lens < 1):
        empty = int(np.flatnonzero(lens < 1)[0])
        raise ValueError(
            f"sequence {empty} has no tokens; drop empty documents or give them an OOV token"
        )
    x = emb[padded]
    x[np.arange(padded.shape[1])[None, :] >= lens[:, None]] = 0.0
    return x, lens
