"""Classification metrics: :mod:`seqlab.metrics`, re-exported here for existing imports.

>>> from seqlab.training.metrics import accuracy
>>> accuracy([0, 1], [0, 0])
0.5
"""

from __future__ import annotations

from seqlab.metrics import accuracy, classification_metrics, confusion_matrix, f1_macro, log_loss

__all__ = ["accuracy", "classification_metrics", "confusion_matrix", "f1_macro", "log_loss"]
