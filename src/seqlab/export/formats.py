"""Model files: a wrapped model (:mod:`seqlab.export.graphs`) written as ONNX or TorchScript,
read back and run, and checked against the model it came from.

ONNX goes through torch's TorchScript-based exporter (``torch.onnx.export(...,
dynamo=False)``, opset :data:`OPSET`): it traces the model in a second or two, where the
``torch.export``-based one took 25 s for a small bidirectional LSTM and adds nothing these
models need. TorchScript is ``torch.jit.trace``. Both read the same wrapped module, with
dynamic batch, length and bag-size axes.

:func:`check_export` runs the written file (onnxruntime, or ``torch.jit.load``) on probe
batches of texts of different lengths and compares every output with the wrapped model's
own, so that a file that would give other numbers (an op traced as a constant, a path fixed
by the example's shape) is never written.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import torch
from torch import nn

from seqlab.defaults import EXPORT_FORMATS

__all__ = ["FORMATS", "OPSET", "TOLERANCE", "check_export", "runner", "write_model"]

FORMATS = EXPORT_FORMATS
OPSET = 17
# The largest difference allowed between the file's outputs and seqlab's (relative beyond 1,
# absolute below). float32 sums taken in another order drift through the layers: the tiny
# 2-block transformer language model of the tests exports to ONNX 1.04e-5 away on an AVX-512
# CPU (under 1e-5 on the AVX2 machines before it), while a trace that took a data-dependent
# path is off by 1e-2 or more (0.045 in the tests).
TOLERANCE = 1e-4
SUFFIX = {"onnx": "model.onnx", "torchscript": "model.pt"}


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    # The exporters warn about every traced Python int and about their own deprecations;
    # the probe check (check_export) is what tells whether the trace holds.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def write_model(
    wrapper: nn.Module,
    example: tuple[torch.Tensor, ...],
    fmt: str,
    *,
    input_names: Sequence[str],
    output_names: Sequence[str],
    dynamic_axes: dict[str, dict[int, str]],
    what: str,
) -> bytes:
    """The bytes of ``wrapper`` traced on ``example`` as ``fmt`` (``"onnx"`` or
    ``"torchscript"``); a one-line ValueError naming ``what`` (the model) when the exporter
    fails."""
    wrapper.eval()
    buffer = io.BytesIO()
    try:
        with _quiet(), torch.no_grad():
            if fmt == "onnx":
                torch.onnx.export(
                    wrapper,
                    example,
                    buffer,
                    input_names=list(input_names),
                    output_names=list(output_names),
                    dynamic_axes=dynamic_axes,
                    opset_version=OPSET,
                    dynamo=False,
                )
            else:
                traced = torch.jit.trace(wrapper, example, check_trace=False)
                torch.jit.save(traced, buffer)
    except Exception as exc:  # the exporters raise many kinds; the user needs one line
        reason = " ".join(str(exc).split("\n")[0].split())[:200] or type(exc).__name__
        if fmt == "onnx":
            raise ValueError(
                f"{what} cannot be expressed in ONNX opset {OPSET} ({type(exc).__name__}: "
                f"{reason}); export it as TorchScript instead: format='torchscript'"
            ) from None
        raise ValueError(
            f"{what} cannot be traced to TorchScript ({type(exc).__name__}: {reason}), so it "
            "cannot be exported"
        ) from None
    return buffer.getvalue()


def runner(data: bytes, fmt: str, names: Sequence[str]) -> Callable[[Sequence[np.ndarray]], list]:
    """A function that runs the model file ``data`` (written by :func:`write_model`) on
    numpy inputs, given in the order of ``names`` (the graph's input names), and returns
    its outputs as numpy arrays: onnxruntime for ONNX, ``torch.jit.load`` for TorchScript."""
    if fmt == "onnx":
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 3  # no warnings about its own graph rewrites
        session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        return lambda inputs: session.run(None, dict(zip(names, inputs)))
    with _quiet():  # torch 2.13 deprecates TorchScript (torch.jit.load warns)
        module = torch.jit.load(io.BytesIO(data))

    def run(inputs: Sequence[np.ndarray]) -> list:
        with torch.no_grad():
            out = module(*(torch.from_numpy(np.ascontiguousarray(x)) for x in inputs))
        return [t.numpy() for t in (out if isinstance(out, tuple | list) else (out,))]

    return run


def check_export(
    wrapper: nn.Module,
    data: bytes,
    fmt: str,
    probes: Sequence[tuple[torch.Tensor, ...]],
    input_names: Sequence[str],
    what: str,
) -> float:
    """Run the model file ``data`` and ``wrapper`` on every probe; the largest difference
    between their outputs, or a one-line ValueError when it exceeds :data:`TOLERANCE` (the
    file would give other numbers than seqlab)."""
    worst = 0.0
    wrapper.eval()
    run = runner(data, fmt, input_names)
    for probe in probes:
        with torch.no_grad():
            expected = wrapper(*probe)
        expected = expected if isinstance(expected, tuple) else (expected,)
        got = run([t.numpy() for t in probe])
        for want, have in zip(expected, got):
            want = want.numpy()
            if want.shape != have.shape:
                worst = float("inf")
                break
            # relative beyond 1 (logits), absolute below (probabilities)
            scale = np.maximum(1.0, np.abs(want))
            worst = max(worst, float(np.max(np.abs(want - have) / scale, initial=0.0)))
    if not worst <= TOLERANCE:
        hint = (
            "try exporting it as TorchScript instead (format='torchscript')"
            if fmt == "onnx"
            else "its forward pass takes a path that depends on the data, which a trace cannot "
            "record, so it cannot be exported"
        )
        raise ValueError(
            f"{what} exported to {fmt} gives outputs up to {worst:.2g} away from seqlab's on "
            f"probe batches of texts of different lengths (tolerance {TOLERANCE:g}), so it was "
            f"not written; {hint}"
        )
    return worst
