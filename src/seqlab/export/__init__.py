"""Export a trained run to run without seqlab: ONNX (or TorchScript) with its vocabulary,
its preprocessing settings and a standalone ``predict.py`` (numpy + onnxruntime).

>>> import seqlab.export
>>> seqlab.export.FORMATS
('onnx', 'torchscript')

``seqlab.export.export("runs/lstm", "exported/lstm")`` writes the folder (see
:mod:`seqlab.export.exporter`); ``seqlab export RUN --format onnx --out DIR`` does the same
from the command line. The graphs are in :mod:`seqlab.export.graphs`, the JSON beside them
in :mod:`seqlab.export.preprocess`, the file formats in :mod:`seqlab.export.formats`.
"""

from __future__ import annotations

from seqlab._utils import public_dir
from seqlab.export import exporter, formats, graphs, preprocess
from seqlab.export.exporter import EXPORT_FILES, export
from seqlab.export.formats import FORMATS, OPSET, TOLERANCE

__all__ = [
    "EXPORT_FILES",
    "FORMATS",
    "OPSET",
    "TOLERANCE",
    "export",
    "exporter",
    "formats",
    "graphs",
    "preprocess",
]

__dir__ = public_dir(__all__)
