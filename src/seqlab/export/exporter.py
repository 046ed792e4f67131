"""``export(run, out, format)``: a trained run as a folder that runs without seqlab.

The folder holds::

    model.onnx | model.pt   the graph (see seqlab.export.graphs for its inputs and outputs)
    vocabulary.json         every token in id order
    preprocessing.json      how texts become the graph's inputs (seqlab.export.preprocess),
                            the labels, the input and output names; for a language model
                            its graph ("step" with the state's shapes, or "sequence")
    predict.py              a standalone script: numpy + onnxruntime (torch for TorchScript)

Which runs export: every classifier run trained on texts (any registered model that reads
token ids or bags of words) and every language-model run; the registry is not listed
anywhere here, so a new model exports when its graph traces, and otherwise gets a one-line
error that says why.
"""

from __future__ import annotations

import copy
import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

import seqlab
from seqlab._checks import check_choice
from seqlab._utils import PathLike, atomic_write_bytes, json_bytes
from seqlab.export.formats import FORMATS, OPSET, SUFFIX, check_export, write_model
from seqlab.export.graphs import (
    BagProbabilities,
    LanguageModelSequence,
    LanguageModelStep,
    SequenceProbabilities,
    bag_probes,
    lm_probes,
    lm_sequence_probes,
    max_width,
    min_width,
    sequence_probes,
    state_specs,
)
from seqlab.export.preprocess import classifier_settings, lm_settings
from seqlab.lm.model import LanguageModel
from seqlab.runfolder import check_writable
from seqlab.runs import Run, read_config, run_task
from seqlab.runs import load as load_classifier
from seqlab.text.fixed import FixedLengthVectorizer
from seqlab.text.tokenize import ngrams_of_orders

__all__ = ["EXPORT_FILES", "FORMAT", "export"]

FORMAT = "seqlab.export"  # the "format" of preprocessing.json
EXPORT_FILES = (*SUFFIX.values(), "vocabulary.json", "preprocessing.json", "predict.py")
_SCRIPT = Path(__file__).with_name("_predict.py")
_PASTED = "from seqlab.text.tokenize import ngrams_of_orders  # pasted by seqlab export\n"


def predict_script() -> str:
    """The text of the ``predict.py`` written beside an export: ``_predict.py`` with the
    source of :func:`seqlab.text.tokenize.ngrams_of_orders` in place of its import, so that
    it runs without seqlab."""
    script = _SCRIPT.read_text(encoding="utf-8")
    if script.count(_PASTED) != 1:
        raise RuntimeError(f"{_SCRIPT} must import ngrams_of_orders once, as {_PASTED!r}")
    return script.replace(_PASTED, inspect.getsource(ngrams_of_orders))


@dataclass
class _Plan:
    """What to trace, how to check it, and the JSON to write beside it."""

    wrapper: nn.Module
    probes: list[tuple[torch.Tensor, ...]]
    inputs: list[str]
    outputs: list[str]
    dynamic_axes: dict[str, dict[int, str]]
    what: str
    settings: dict[str, Any]
    vocabulary: list[str]
    extra: dict[str, Any] = field(default_factory=dict)


def export(
    run: PathLike | Run | LanguageModel,
    out: PathLike,
    format: str = "onnx",
    *,
    overwrite: bool = False,
) -> Path:
    """Export the run ``run`` (a run folder, or a loaded classifier ``Run`` /
    ``LanguageModel``) into the folder ``out`` as ``format`` (``"onnx"`` or
    ``"torchscript"``); returns ``out``. See the module docstring for the files.

    The written graph is run on probe batches (texts of different lengths) and compared with
    seqlab's model first; an export that differs by more than 1e-5 is refused, as is a
    setting that ``predict.py`` cannot reproduce, each with a one-line ValueError. ``out``
    must be empty, or hold an earlier export (``overwrite=True`` replaces it).

    >>> export("runs/snippets-nbsvm", "exported/nbsvm")  # doctest: +SKIP
    PosixPath('exported/nbsvm')
    """
    check_choice("format", format, FORMATS)
    obj = _load(run)
    plan = _classifier_plan(obj) if isinstance(obj, Run) else _lm_plan(obj)
    example = plan.probes[0]
    data = write_model(
        plan.wrapper,
        example,
        format,
        input_names=plan.inputs,
        output_names=plan.outputs,
        dynamic_axes=plan.dynamic_axes,
        what=plan.what,
    )
    check_export(plan.wrapper, data, format, plan.probes, plan.inputs, plan.what)
    settings = {
        "format": FORMAT,
        "version": 1,
        **plan.extra,
        "runtime": format,
        "model_file": SUFFIX[format],
        "opset": OPSET if format == "onnx" else None,
        "inputs": plan.inputs,
        "outputs": plan.outputs,
        **plan.settings,
        "seqlab_version": seqlab.__version__,
    }
    files = {
        SUFFIX[format]: data,
        "vocabulary.json": json_bytes(plan.vocabulary),
        "preprocessing.json": json_bytes(settings),
        "predict.py": predict_script().encode("utf-8"),
    }
    return _write(Path(out), files, overwrite)


def _load(run: PathLike | Run | LanguageModel) -> Run | LanguageModel:
    if isinstance(run, Run | LanguageModel):
        return run
    path = Path(run)
    task = run_task(read_config(path))
    if task == "classify":
        return load_classifier(path, device="cpu")
    if task == "lm":
        return LanguageModel.load(path, device="cpu")
    raise ValueError(
        f"{path} holds a {task!r} run; export reads classifier ('classify') and language-model "
        "('lm') runs, which read texts"
    )


def _cpu_copy(model: nn.Module) -> nn.Module:
    """The model on the CPU in eval mode, leaving the caller's model as it was."""
    return copy.deepcopy(model).to("cpu").eval()


def _name(model: nn.Module) -> str:
    return f"model {getattr(model, 'registry_name', type(model).__name__)!r}"


def _classifier_plan(run: Run) -> _Plan:
    where = f" ({run.path})" if run.path is not None else ""
    if run.vectorizer is None:
        raise ValueError(
            f"the run{where} was trained on (x, y) arrays and has no vocabulary, so an "
            "exported model could not read texts; train it on texts to export it"
        )
    kind = run.input_kind
    model = _cpu_copy(run.model)
    # A run that reads its padding (fixed_maxlen) keeps it: seqlab.runs.load re-wraps it so.
    vec = run.vectorizer
    fixed = vec.maxlen if isinstance(vec, FixedLengthVectorizer) else None
    settings, vocabulary = classifier_settings(run.vectorizer, kind, fixed)
    vocab_size = int(run.vectorizer.vocab_size)
    if kind == "bag":
        wrapper: nn.Module = BagProbabilities(model)
        inputs = ["indices", "offsets", "weights"]
        axes = {"indices": {0: "entries"}, "offsets": {0: "batch"}, "weights": {0: "entries"}}
        probes = bag_probes(vocab_size)
    else:
        wrapper = SequenceProbabilities(model)
        inputs = ["tokens", "lengths"]
        axes = {"tokens": {0: "batch", 1: "steps"}, "lengths": {0: "batch"}}
        longest = max_width(model, settings["sequence"]["maxlen"])
        probes = sequence_probes(vocab_size, min_width(model), fixed, longest)
    return _Plan(
        wrapper=wrapper,
        probes=probes,
        inputs=inputs,
        outputs=["probabilities"],
        dynamic_axes={**axes, "probabilities": {0: "batch"}},
        what=_name(model),
        settings=settings,
        vocabulary=vocabulary,
        extra={
            "task": "classify",
            "model": getattr(model, "registry_name", type(model).__name__),
            "labels": list(run.labels),
            "input_kind": kind,
        },
    )


def _lm_plan(lm: LanguageModel) -> _Plan:
    model = _cpu_copy(lm.model)
    if getattr(model, "state_grows", False):
        return _lm_sequence_plan(lm, model)
    specs = state_specs(model)
    names = [spec.name for spec in specs]
    axes: dict[str, dict[int, str]] = {"ids": {0: "batch"}, "logits": {0: "batch"}}
    for spec in specs:
        axes[spec.name] = axes[f"{spec.name}_out"] = {spec.batch_axis: "batch"}
    settings, vocabulary = lm_settings(lm.vocab)
    settings["graph"] = "step"
    settings["state"] = [
        {"name": s.name, "shape": list(s.shape), "batch_axis": s.batch_axis} for s in specs
    ]
    return _Plan(
        wrapper=LanguageModelStep(model),
        probes=lm_probes(len(vocabulary), specs),
        inputs=["ids", *names],
        outputs=["logits", *(f"{n}_out" for n in names)],
        dynamic_axes=axes,
        what=_name(model),
        settings=settings,
        vocabulary=vocabulary,
        extra={"task": "lm", "model": getattr(model, "registry_name", type(model).__name__)},
    )


def _lm_sequence_plan(lm: LanguageModel, model: nn.Module) -> _Plan:
    """A language model whose state grows with the text (a key/value cache) exports the
    whole sequence, ``ids (B, T) -> logits (B, T, V)``: its state has no fixed size to be a
    graph's input, and the whole sequence is what the cache reproduces (exactly, to float
    rounding), so predict.py re-runs the text for every new token instead."""
    settings, vocabulary = lm_settings(lm.vocab)
    settings.update(graph="sequence", state=[])
    axes = {"ids": {0: "batch", 1: "steps"}, "logits": {0: "batch", 1: "steps"}}
    return _Plan(
        wrapper=LanguageModelSequence(model),
        probes=lm_sequence_probes(len(vocabulary), getattr(model, "block_size", None)),
        inputs=["ids"],
        outputs=["logits"],
        dynamic_axes=axes,
        what=_name(model),
        settings=settings,
        vocabulary=vocabulary,
        extra={"task": "lm", "model": getattr(model, "registry_name", type(model).__name__)},
    )


def _write(out: Path, files: dict[str, bytes], overwrite: bool) -> Path:
    """Write ``files`` into ``out``: an empty (or new) folder, or one holding an earlier
    export when ``overwrite`` (whose files are replaced)."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"out={str(out)!r} is a file; give a folder for the exported model")
    present = sorted(p.name for p in out.iterdir()) if out.is_dir() else []
    others = [name for name in present if name not in EXPORT_FILES]
    if others:
        shown = ", ".join(others[:5])
        raise ValueError(
            f"out={str(out)!r} holds other files ({shown}); export into an empty or new folder"
        )
    if present and not overwrite:
        raise ValueError(
            f"out={str(out)!r} already holds an exported model; pass overwrite=True to replace "
            "it, or choose another folder"
        )
    check_writable(out, "the export folder")
    for name in present:
        if name not in files:  # the other format's model file of an earlier export
            (out / name).unlink()
    for name, data in files.items():
        atomic_write_bytes(out / name, data)
    return out
