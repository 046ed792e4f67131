"""How an ensemble combines its members' probabilities, and how it learns to.

``P`` below is the ``(K, N, C)`` array of the ``K`` members' class probabilities for ``N``
texts. Two combiners:

* a weighted mean ``p(c | x) = sum_k w_k P[k, x, c]`` with ``w`` on the simplex (``w_k >= 0``,
  ``sum_k w_k = 1``); :func:`fit_mixture_weights` finds the ``w`` that maximises the mean
  log-likelihood of the true labels, a concave problem solved by the classic EM update for
  mixture weights (each step cannot lower the likelihood);
* a logistic-regression stacker on the members' log-probabilities:
  ``p(c | x) = softmax_c(A[c] . f(x) + b_c)`` with ``f(x) = log max(P[:, x, :], floor)``
  flattened to ``K * C`` features; :func:`fit_logistic` minimises the mean negative
  log-likelihood plus ``l2 / 2 * ||A||^2`` (the intercepts are not penalised) with L-BFGS.

Both fits are deterministic (no random start), so they take no seed.
"""

from __future__ import annotations

import numpy as np

# Probabilities are clipped to this before a log: a member sure of the wrong class must not
# give an infinite feature or likelihood.
FLOOR = 1e-7


def weighted_mean(P: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``(N, C)`` float64: ``sum_k weights[k] * P[k]``.

    >>> P = np.array([[[0.2, 0.8]], [[0.6, 0.4]]])
    >>> weighted_mean(P, np.array([0.5, 0.5])).tolist()
    [[0.4, 0.6000000000000001]]
    """
    return np.tensordot(np.asarray(weights, dtype=np.float64), np.asarray(P, np.float64), axes=1)


def fit_mixture_weights(q: np.ndarray, *, tol: float = 1e-10, max_iter: int = 20_000) -> np.ndarray:
    """The weights ``w`` (``K``, on the simplex) that maximise ``mean_i log(sum_k w_k q[k, i])``,
    where ``q[k, i]`` is member ``k``'s probability of item ``i``'s true label.

    EM: ``w_k <- w_k * mean_i(q[k, i] / sum_j w_j q[j, i])``, from equal weights, until no
    weight moves by more than ``tol``. At the optimum every member with ``w_k > 0`` has
    ``mean_i(q[k, i] / mix_i) = 1`` and the others at most 1.

    >>> q = np.array([[0.9, 0.8, 0.7], [0.5, 0.5, 0.5]])  # member 0 is better on every item
    >>> fit_mixture_weights(q).round(3).tolist()
    [1.0, 0.0]
    """
    q = np.maximum(np.asarray(q, dtype=np.float64), FLOOR)
    if q.ndim != 2 or q.shape[1] == 0:
        raise ValueError(f"q must be (members, items) with at least one item, got {q.shape}")
    w = np.full(q.shape[0], 1.0 / q.shape[0])
    for _ in range(max_iter):
        new = w * (q / (w @ q)).mean(axis=1)
        new /= new.sum()  # guards against rounding drift
        done = np.max(np.abs(new - w)) < tol
        w = new
        if done:
            break
    return w


def log_features(P: np.ndarray, floor: float = FLOOR) -> np.ndarray:
    """``(N, K * C)``: the log-probabilities of every member, member by member.

    >>> log_features(np.array([[[0.5, 0.5]], [[1.0, 0.0]]])).round(2).tolist()
    [[-0.69, -0.69, 0.0, -16.12]]
    """
    P = np.asarray(P, dtype=np.float64)
    K, N, C = P.shape
    return np.log(np.maximum(P, floor)).transpose(1, 0, 2).reshape(N, K * C)


def logistic_proba(features: np.ndarray, coef: np.ndarray, intercept: np.ndarray) -> np.ndarray:
    """``(N, C)`` float64: ``softmax(features @ coef.T + intercept)``."""
    z = features @ np.asarray(coef, dtype=np.float64).T + np.asarray(intercept, np.float64)
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fit_logistic(
    features: np.ndarray, y: np.ndarray, num_classes: int, l2: float
) -> tuple[np.ndarray, np.ndarray]:
    """``(coef (C, F), intercept (C,))`` of a multinomial logistic regression of ``y`` on
    ``features`` that minimises ``mean NLL + l2 / 2 * ||coef||^2``, by L-BFGS from zeros.

    >>> x = np.array([[-2.0], [-1.0], [1.0], [2.0]])
    >>> coef, b = fit_logistic(x, np.array([0, 0, 1, 1]), 2, l2=0.1)
    >>> bool(coef[1, 0] > coef[0, 0])
    True
    """
    from scipy.optimize import minimize

    X = np.asarray(features, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    n, f = X.shape
    onehot = np.zeros((n, num_classes))
    onehot[np.arange(n), y] = 1.0

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        coef = theta[: num_classes * f].reshape(num_classes, f)
        b = theta[num_classes * f :]
        p = logistic_proba(X, coef, b)
        nll = -np.log(np.maximum(p[np.arange(n), y], 1e-300)).mean()
        value = nll + 0.5 * l2 * float((coef * coef).sum())
        d = (p - onehot) / n  # (N, C): gradient of the mean NLL by the logits
        grad = np.concatenate([(d.T @ X + l2 * coef).ravel(), d.sum(axis=0)])
        return float(value), grad

    theta0 = np.zeros(num_classes * (f + 1))
    result = minimize(loss, theta0, jac=True, method="L-BFGS-B", options={"maxiter": 1000})
    theta = result.x
    return theta[: num_classes * f].reshape(num_classes, f), theta[num_classes * f :]
