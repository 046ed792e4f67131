"""Small shared helpers: atomic writes, device choice, seeding, data-dir lookup, a
background producer thread.

Nothing in here knows about models or text; every other module may import it.
"""

from __future__ import annotations

import json
import os
import queue
import tempfile
import threading
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

if TYPE_CHECKING:  # torch is imported lazily: data commands should not pay for it
    import torch

PathLike = str | os.PathLike[str]
T = TypeVar("T")


def public_dir(names: list[str]) -> Callable[[], list[str]]:
    """A module's ``__dir__`` (PEP 562) that lists ``names`` only: the public names, not the
    helpers and submodules the module imports. A package writes ``__dir__ = public_dir(__all__)``.

    >>> public_dir(["load", "save"])()
    ['load', 'save']
    """

    def __dir__() -> list[str]:
        return list(names)

    return __dir__


def atomic_write_bytes(path: PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never half.

    The bytes go to a temporary file in the same folder, are flushed to disk, and the
    temporary file is renamed over ``path`` (an atomic rename on POSIX and Windows).

    >>> atomic_write_bytes("/tmp/seqlab-doc.bin", b"abc").read_bytes()
    b'abc'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def atomic_write_text(path: PathLike, text: str) -> Path:
    """Atomically write UTF-8 ``text`` to ``path`` (see :func:`atomic_write_bytes`)."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def json_bytes(obj: Any) -> bytes:
    """``obj`` as the UTF-8 bytes of indented JSON, as seqlab writes its JSON files.

    >>> json_bytes({"a": 1})
    b'{\\n  "a": 1\\n}\\n'
    """
    return (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def atomic_write_json(path: PathLike, obj: Any) -> Path:
    """Atomically write ``obj`` as indented JSON to ``path``.

    >>> import json; json.loads(atomic_write_json("/tmp/seqlab-doc.json", {"a": 1}).read_text())
    {'a': 1}
    """
    return atomic_write_bytes(path, json_bytes(obj))


def read_json(path: PathLike) -> Any:
    """Read a JSON file, with an error that names the file when it is missing."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    return json.loads(path.read_text(encoding="utf-8"))


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Turn ``"auto" | "cpu" | "cuda" | "cuda:N"`` into a :class:`torch.device`.

    ``"auto"`` picks CUDA when a GPU is present and the CPU otherwise.

    >>> resolve_device("cpu")
    device(type='cpu')
    """
    import torch

    if isinstance(device, torch.device):
        return device
    if not isinstance(device, str):
        raise TypeError(f"device must be 'auto', 'cpu' or 'cuda', got {device!r}")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cpu":
        return torch.device("cpu")
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={device!r} was requested but no CUDA GPU is available; "
                "use device='cpu' or device='auto'"
            )
        return torch.device(device)
    raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {device!r}")


def rng(seed: int | None) -> np.random.Generator:
    """A numpy generator for ``seed`` (``None`` means fresh entropy, i.e. not reproducible)."""
    return np.random.default_rng(seed)


def torch_generator(seed: int) -> torch.Generator:
    """A CPU torch generator seeded with ``seed``."""
    import torch

    g = torch.Generator()
    g.manual_seed(int(seed))
    return g


def data_dir(data_dir: PathLike | None = None) -> Path | None:
    """Where local copies of datasets live: the argument, else ``$SEQLAB_DATA``, else None."""
    if data_dir is not None:
        return Path(data_dir).expanduser()
    env = os.environ.get("SEQLAB_DATA")
    return Path(env).expanduser() if env else None


def cache_dir() -> Path:
    """The cache folder: ``$SEQLAB_CACHE``, else ``$XDG_CACHE_HOME/seqlab``, else ``~/.cache/seqlab``."""
    env = os.environ.get("SEQLAB_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "seqlab"


def is_number(text: str | bytes) -> bool:
    """Whether ``float(text)`` accepts ``text``.

    >>> is_number("1e-3"), is_number(b"nan"), is_number("1,5")
    (True, True, False)
    """
    try:
        float(text)
    except ValueError:
        return False
    return True


def background(items: Iterator[T], depth: int = 2) -> Generator[T, None, None]:
    """Run the ``items`` generator in a daemon thread, at most ``depth`` items ahead of the
    consumer, so that producing the next item overlaps the use of this one. An exception in
    the thread is re-raised in the consumer; closing the returned generator (or leaving a
    ``for`` loop over it) stops the thread.

    >>> list(background(iter(range(5))))
    [0, 1, 2, 3, 4]
    """
    q: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(done)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            put(exc)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join(timeout=5)
