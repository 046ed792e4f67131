"""Linear algebra of the echo state networks: spectral radius and the ridge readout."""

from __future__ import annotations

import warnings

import numpy as np
import scipy.linalg
import scipy.sparse
import scipy.sparse.linalg

__all__ = ["DENSE_MAX_UNITS", "ridge_gram", "ridge_solve", "solve_gram", "spectral_radius"]

# Reservoirs up to this size use a dense W (faster matvecs, exact eigenvalues with LAPACK);
# larger ones are stored sparse and their spectral radius comes from ARPACK (eigs).
DENSE_MAX_UNITS = 1000


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


def ridge_gram(features: np.ndarray, ridge: float) -> np.ndarray:
    """``Phi^T Phi + ridge * R`` with ``R = diag(0, 1, ..., 1)`` (bias column unpenalised)."""
    if ridge < 0:
        raise ValueError(f"ridge must be >= 0, got {ridge}")
    gram = features.T @ features
    idx = np.arange(1, gram.shape[0])
    gram[idx, idx] += ridge
    return gram


def solve_gram(gram: np.ndarray, rhs: np.ndarray) -> np.ndarray:
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
    return solve_gram(ridge_gram(features, ridge), features.T @ targets)
