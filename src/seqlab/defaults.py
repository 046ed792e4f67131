"""Choices and defaults that several layers share and that the commands show in their help
without importing torch: how a model's weights start (:data:`INITS`, :data:`DEFAULT_INIT`)
what a classifier's output layer is (:data:`HEADS`), the optimizers the training loop
builds (:data:`OPTIMIZERS`) and the formats a run exports to (:data:`EXPORT_FORMATS`).

>>> DEFAULT_INIT in INITS, HEADS
(True, ('softmax', 'sigmoid'))
"""

from __future__ import annotations

__all__ = ["DEFAULT_INIT", "EXPORT_FORMATS", "HEADS", "INITS", "OPTIMIZERS"]

#: ``"keras"``: Keras's initialisers (Glorot-uniform kernels, orthogonal recurrent kernels,
#: zero biases, LSTM forget-gate bias 1, embeddings U(-0.05, 0.05)); ``"torch"``: PyTorch's
#: layer defaults. See :func:`seqlab.models.initializers.keras_init`.
INITS = ("keras", "torch")
#: The initialisation every model and command uses unless told otherwise; one line to change
#: (kept at PyTorch's until a benchmark decides).
DEFAULT_INIT = "torch"
#: ``"softmax"``: one output unit per class; ``"sigmoid"``: one unit for two classes (Keras's
#: ``Dense(1, activation="sigmoid")`` with binary cross-entropy).
HEADS = ("softmax", "sigmoid")
#: What :func:`seqlab.training.optim.build_optimizers` builds, for every task: Adam, AdamW
#: (decoupled weight decay), Keras's RMSprop, SGD without momentum.
OPTIMIZERS = ("adam", "adamw", "rmsprop", "sgd")
#: What :func:`seqlab.export.export` writes: ONNX (run by onnxruntime) or TorchScript.
EXPORT_FORMATS = ("onnx", "torchscript")
