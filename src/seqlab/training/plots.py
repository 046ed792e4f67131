"""Learning curves: :mod:`seqlab.curves`, re-exported here for existing imports.

>>> from seqlab.training.plots import plot_curves
>>> plot_curves.__module__
'seqlab.curves'
"""

from __future__ import annotations

from seqlab.curves import plot_curves

__all__ = ["plot_curves"]
