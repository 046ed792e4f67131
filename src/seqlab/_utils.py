"""Small shared helpers: atomic writes, device choice, seeding, data-dir lookup, a
background producer thread.

Nothing in here knows about models or text; every other module may import it.
"""

from __future__ import annotations

import errno
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
            if hasattr(os, "fchmod"):  # mkstemp makes 0o600: give the file open()'s mode
                os.fchmod(f.fileno(), 0o666 & ~current_umask())
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


def current_umask() -> int:
    """The process umask, read without changing it where the OS tells it (Linux), else by
    setting it and back.

    >>> 0 <= current_umask() <= 0o777
    True
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def pid_alive(pid: int) -> bool:
    """Whether a process with ``pid`` exists on this host (signal 0 checks without sending).

    >>> pid_alive(os.getpid())
    True
    """
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by another user
        return True
    except OSError as exc:  # e.g. Windows' invalid-parameter for a dead PID
        return exc.errno != errno.ESRCH and os.name != "nt"
    return True


def read_json(path: PathLike) -> Any:
    """Read a JSON file, with an error that names the file when it is missing or damaged."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        reason = f"not UTF-8 text ({exc.reason} at byte {exc.start})"
    except json.JSONDecodeError as exc:
        reason = f"not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
    raise ValueError(f"{path} is {reason}; the file is damaged: restore it, or train the run again")


def read_safetensors(path: PathLike) -> dict[str, torch.Tensor]:
    """The tensors of the safetensors file ``path``, with one-line errors that name the file
    when it is missing, truncated or not safetensors at all."""
    import safetensors.torch

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        return safetensors.torch.load(path.read_bytes())
    except Exception as exc:  # SafetensorError is not importable by name across versions
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise ValueError(
            f"{path} is damaged (truncated or not a safetensors file: {reason}); restore "
            "it, or train the run again"
        ) from None


def load_weights(model: torch.nn.Module, file: Path, strict: bool = True) -> tuple[list, list]:
    """Load the safetensors ``file`` into ``model``, with one-line errors naming the file when
    it is damaged or holds the weights of another model; returns ``(missing, unexpected)``
    (both empty when ``strict``)."""
    state = read_safetensors(file)
    try:
        return model.load_state_dict(state, strict=strict)
    except RuntimeError as exc:  # shapes (or, when strict, names) differ
        detail = " ".join(str(exc).split())
        raise ValueError(
            f"the weights in {file} do not fit the model that config.json describes ({detail[:300]}); "
            "was the file copied from another run? Restore the run's own model.safetensors"
        ) from None


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
