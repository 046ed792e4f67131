"""Echo state networks: a fixed random reservoir and a linear readout fitted in closed form.

The reservoir is a leaky-integrator recurrent layer whose weights are drawn once and never
trained; only the readout is learned, by ridge regression (or online, by recursive least
squares). Everything runs in numpy float64, batched over sequences of different lengths.

    x[t] = (1 - a) * x[t-1] + a * f(W_in @ u[t] + W @ x[t-1] + b)      (reservoir, x[-1] = 0)
    y[t] = W_out @ [1; x[t]]           or  W_out @ [1; u[t]; x[t]]      (readout)

``a`` is ``leak_rate``, ``f`` the activation, ``W`` is rescaled so that its spectral radius
(largest eigenvalue modulus, measured on the built matrix) is exactly ``spectral_radius``.
The readout is ``W_out = Y^T Phi (Phi^T Phi + ridge * R)^-1`` where ``Phi`` stacks the
feature rows ``[1; x]`` of every training step after the warm-up and ``R`` is the identity
with a 0 for the bias, so the intercept is not shrunk (as in reservoirpy's ``Ridge``).

Why numpy and not torch: nothing here is trained by gradient, the step loop is sequential,
and for reservoirs of a few hundred units numpy's per-call overhead is several times lower
than torch's on a CPU, which is where these models are used.

The API follows reservoirpy (``ESN(units=..., spectral_radius=..., leak_rate=...).fit(x, y,
warmup=...)`` and ``.run(x)``; reservoirpy's own names ``sr`` / ``lr`` still work, deprecated:
in seqlab ``lr`` is the learning rate). Like reservoirpy the model is *stateful*: ``fit`` and
``run`` leave the last reservoir state in ``state_`` and the next ``run`` continues from it,
which is what a test segment that directly follows the training segment needs. Pass
``reset=True`` to start from zeros.

The package, one concept per module: :mod:`~seqlab.models.esn.reservoir` (the random
recurrent layer), :mod:`~seqlab.models.esn.linalg` (spectral radius, ridge readout),
:mod:`~seqlab.models.esn.regressor` (:class:`ESN`), :mod:`~seqlab.models.esn.classifier`
(:class:`ESNClassifier`, :func:`embed_tokens`); everything is importable from here.
"""

from __future__ import annotations

from seqlab._utils import public_dir
from seqlab.models.esn.classifier import ESNClassifier, embed_tokens
from seqlab.models.esn.linalg import DENSE_MAX_UNITS, ridge_solve, spectral_radius
from seqlab.models.esn.regressor import ESN
from seqlab.models.esn.reservoir import Reservoir

__all__ = [
    "DENSE_MAX_UNITS",
    "ESN",
    "ESNClassifier",
    "Reservoir",
    "embed_tokens",
    "ridge_solve",
    "spectral_radius",
]

__dir__ = public_dir(__all__)
