"""Where a series job (``seqlab series evaluate`` / ``classify``) writes its ``--out``.

A neural model (:class:`~seqlab.series.neural.NeuralForecaster`,
:class:`~seqlab.series.neural.NeuralSequenceClassifier`) gets its run folder (see
:mod:`seqlab.series._neural_io`), written through :class:`~seqlab.runfolder.RunFolder`: the
folder is checked and locked before training, and the model's files, the job's results (in
``metrics.json``) and its plot appear together at the end; ``seqlab.load(out)`` gives the
model back. Other models (the ESN, the baselines) get ``metrics.json`` and the plot.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from seqlab._utils import PathLike, atomic_write_json
from seqlab.runfolder import RunFolder

__all__ = ["JobOutputs"]


class JobOutputs:
    """The ``out`` folder of one job (nothing when ``out`` is None); ``run_folder=True`` for
    a neural model: a RunFolder (a folder that holds a run is refused unless ``overwrite``).

    >>> import tempfile
    >>> result = {"accuracy": 1.0}
    >>> with JobOutputs(tempfile.mkdtemp(), run_folder=False) as outputs:
    ...     outputs.write(result, "plot.png", lambda path: path.write_bytes(b"png"))
    >>> sorted(p.name for p in Path(result["plot"]).parent.iterdir())
    ['metrics.json', 'plot.png']
    """

    def __init__(self, out: PathLike | None, *, run_folder: bool, overwrite: bool = False) -> None:
        self.out = None if out is None else Path(out)
        self.run_folder = run_folder
        self.overwrite = overwrite
        self._folder: RunFolder | None = None

    def __enter__(self) -> JobOutputs:
        if self.out is not None and self.run_folder:
            self._folder = RunFolder(self.out, overwrite=self.overwrite).open()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._folder is not None:
            self._folder.close()

    def write(
        self,
        result: dict[str, Any],
        plot_name: str,
        plot: Callable[[Path], Any],
        *,
        model: Any = None,
        experiment: dict[str, Any] | None = None,
    ) -> None:
        """Write ``result`` (JSON) and the PNG that ``plot(path)`` draws; in the run folder,
        with ``model``'s files (``experiment`` goes into its ``config.json``). Then the plot's
        path is ``result["plot"]``. Nothing without ``out``."""
        if self.out is None:
            return
        if self._folder is None:
            plot(self.out / plot_name)
            atomic_write_json(self.out / "metrics.json", result)
        else:
            files = model.files(experiment=experiment, metrics=result, folder=self.out)
            with tempfile.TemporaryDirectory() as tmp:
                plot(Path(tmp) / plot_name)
                files[plot_name] = (Path(tmp) / plot_name).read_bytes()
            self._folder.commit(files)
        result["plot"] = str(self.out / plot_name)
