"""The IMDB Large Movie Review Dataset (Maas et al., ACL 2011) from its official layout.

Reads either the ``aclImdb/`` folder or the ``aclImdb_v1.tar.gz`` archive in place (the
archive is streamed once; nothing is unpacked). The first load parses every split and keeps
a parsed copy in the cache folder, so later loads take well under two seconds::

    <cache>/imdb/v1-<key>/            key = hash of the source's resolved path, size, mtime
        meta.json                     source, sha256, counts (written last)
        train.bin                     the texts of the split, UTF-8, one after another
        train.offsets.npy             int64 (n + 1,) byte offsets into train.bin
        train.labels.npy / .ratings.npy / .ids.npy      int64 (n,)
        (the same for test and unsup)

The folder is written under a temporary name and renamed when complete, so a failed or
interrupted parse never leaves a half-written cache behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from seqlab._utils import PathLike, cache_dir
from seqlab._utils import data_dir as _env_data_dir
from seqlab.data._tar import TarFormatError, iter_tar_files
from seqlab.data.base import TextDataset
from seqlab.data.download import IMDB_URL, KNOWN_SHA256
from seqlab.data.download import download as _download

__all__ = ["ARCHIVE_NAME", "IMDB_SPLITS", "LABEL_NAMES", "imdb", "imdb_path"]

IMDB_SPLITS: tuple[str, ...] = ("train", "test", "unsup")
LABEL_NAMES: list[str] = ["neg", "pos"]
ARCHIVE_NAME = "aclImdb_v1.tar.gz"
_CACHE_FORMAT = 1
# The order items are sorted in within a split: negatives, then positives, then unlabelled.
_CLASS_ORDER = {"neg": 0, "pos": 1, "unsup": 2}
_LABEL = {"neg": 0, "pos": 1, "unsup": -1}
_FILE_RE = re.compile(r"(\d+)_(\d+)\.txt")


@dataclass
class _Split:
    """Reviews of one split while parsing, in the order they were read."""

    texts: list[bytes] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    ratings: list[int] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)

    def add(self, cls: str, review_id: int, rating: int, data: bytes) -> None:
        self.texts.append(data)
        self.labels.append(_LABEL[cls])
        self.ratings.append(rating)
        self.ids.append(review_id)


def _member_key(name: str) -> tuple[str, str, int, int] | None:
    """``(split, class, id, rating)`` for a review's path, None for any other file."""
    parts = name.replace("\\", "/").split("/")
    if len(parts) < 3:
        return None
    split, cls, base = parts[-3:]
    if split not in ("train", "test") or cls not in _CLASS_ORDER:
        return None
    if cls == "unsup" and split != "train":
        return None
    m = _FILE_RE.fullmatch(base)
    if m is None:
        return None
    return split, cls, int(m.group(1)), int(m.group(2))


def _check_utf8(data: bytes, where: str) -> None:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"{where}: bytes {exc.start}-{exc.end} are not valid UTF-8 ({exc.reason}); the "
            "IMDB reviews are UTF-8, so this copy is damaged: download it again"
        ) from None


# --------------------------------------------------------------------------- locating


def _candidates(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    if (root / "train").is_dir() or (root / "test").is_dir():
        return [root]
    return [
        root / ARCHIVE_NAME,
        root / "aclImdb",
        root / "imdb" / ARCHIVE_NAME,
        root / "imdb" / "aclImdb",
    ]


def _usable(path: Path) -> bool:
    if path.is_file():
        return True
    return path.is_dir() and ((path / "train").is_dir() or (path / "test").is_dir())


def imdb_path(
    data_dir: PathLike | None = None, *, download: bool = False, progress: bool = True
) -> Path:
    """Where the IMDB data is: the ``aclImdb_v1.tar.gz`` archive or the ``aclImdb`` folder.

    Looked up in ``data_dir`` when given (the archive, the ``aclImdb`` folder, or a folder
    holding either directly or under ``imdb/``); otherwise in ``$SEQLAB_DATA`` and then in
    ``<cache>/downloads``. With ``download=True`` a missing copy is downloaded into
    ``<cache>/downloads`` from the official address (about 84 MB) and its checksum checked.

    >>> imdb_path("../shared/data/imdb")  # doctest: +SKIP
    PosixPath('../shared/data/imdb/aclImdb_v1.tar.gz')
    """
    downloads = cache_dir() / "downloads"
    if data_dir is not None:
        given = Path(data_dir).expanduser()
        roots = [given]
        if not given.exists():
            raise FileNotFoundError(
                f"data_dir={str(data_dir)!r} does not exist; pass the folder that holds "
                f"{ARCHIVE_NAME} or aclImdb/ (--data-dir on the command line)"
            )
    else:
        roots = [p for p in (_env_data_dir(None), downloads) if p is not None]
    looked: list[Path] = []
    for root in roots:
        for candidate in _candidates(root):
            looked.append(candidate)
            if _usable(candidate):
                return candidate
    if download and data_dir is None:
        return _download(
            IMDB_URL, downloads / ARCHIVE_NAME, sha256=KNOWN_SHA256[ARCHIVE_NAME], progress=progress
        )
    where = ", ".join(str(p) for p in looked) or "(nowhere)"
    raise FileNotFoundError(
        f"IMDB data not found; looked for {where}. Pass data_dir= (or --data-dir on the "
        f"command line) naming the folder that holds {ARCHIVE_NAME} or aclImdb/, set the "
        f"SEQLAB_DATA environment variable to it, or call imdb(download=True) to fetch it "
        f"from {IMDB_URL}"
    )


# --------------------------------------------------------------------------- parsing


_Item = tuple[str, tuple[str, str, int, int], bytes]


def _iter_archive(path: Path, digest: Any, on_read: Callable[[int], Any]) -> Iterator[_Item]:
    """Yield ``(member name, key, bytes)`` of the review files, streaming the archive once."""
    wanted: dict[str, tuple[str, str, int, int]] = {}

    def want(name: str) -> bool:
        key = _member_key(name)
        if key is not None:
            wanted[name] = key
        return key is not None

    for name, data in iter_tar_files(path, want, digest, on_read):
        yield name, wanted.pop(name), data


def _iter_folder(root: Path) -> Iterator[_Item]:
    for split in ("train", "test"):
        for cls in ("neg", "pos", "unsup"):
            folder = root / split / cls
            if not folder.is_dir():
                continue
            with os.scandir(folder) as entries:
                names = sorted(e.name for e in entries if e.is_file())
            for name in names:
                m = _FILE_RE.fullmatch(name)
                if m is not None:
                    key = (split, cls, int(m.group(1)), int(m.group(2)))
                    yield str(folder / name), key, (folder / name).read_bytes()


def _parse(source: Path, progress: bool = False) -> tuple[dict[str, _Split], str | None]:
    """Parse every split of ``source``; returns the splits and the archive's sha256."""
    splits = {s: _Split() for s in IMDB_SPLITS}
    digest = hashlib.sha256()
    is_archive = source.is_file()
    with tqdm(
        total=source.stat().st_size if is_archive else None,
        unit="B" if is_archive else " reviews",
        unit_scale=True,
        desc=f"parsing {source.name} (once, then cached)",
        disable=not progress,
    ) as bar:
        if is_archive:
            items = _iter_archive(source, digest, bar.update)
        else:
            items = _iter_folder(source)
        try:
            for name, key, data in items:
                split, cls, review_id, rating = key
                _check_utf8(data, f"{source}: member {name}" if is_archive else name)
                splits["unsup" if cls == "unsup" else split].add(cls, review_id, rating, data)
                if not is_archive:
                    bar.update(1)
        except TarFormatError as exc:
            raise ValueError(
                f"{source} is corrupt or truncated ({exc}); delete it and download it again, "
                f"e.g. with seqlab.datasets.imdb(download=True) from {IMDB_URL}"
            ) from None
    if not any(splits[s].texts for s in IMDB_SPLITS):
        raise ValueError(
            f"no IMDB reviews found in {source}; expected files like "
            "aclImdb/train/pos/<id>_<rating>.txt (the official aclImdb layout)"
        )
    return splits, (digest.hexdigest() if is_archive else None)


# --------------------------------------------------------------------------- cache


def _source_key(source: Path) -> str:
    resolved = source.resolve()
    if resolved.is_file():
        st = resolved.stat()
        stamp = f"{st.st_size}:{st.st_mtime_ns}"
    else:
        # A folder: a file added or removed changes its parent folder's mtime.
        parts = []
        for sub in ("train/neg", "train/pos", "train/unsup", "test/neg", "test/pos"):
            p = resolved / sub
            parts.append(f"{sub}={p.stat().st_mtime_ns if p.is_dir() else '-'}")
        stamp = ",".join(parts)
    digest = hashlib.sha256(f"{resolved}|{stamp}".encode()).hexdigest()[:20]
    return f"v{_CACHE_FORMAT}-{digest}"


def _cache_folder(source: Path) -> Path:
    """The folder where the parsed copy of ``source`` is (or would be) cached."""
    return cache_dir() / "imdb" / _source_key(source)


def _write_cache(folder: Path, splits: dict[str, _Split], meta: dict) -> None:
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.", suffix=".tmp"))
    try:
        for name, sp in splits.items():
            order = sorted(
                range(len(sp.texts)),
                key=lambda i, sp=sp: (_CLASS_ORDER[_class_name(name, sp.labels[i])], sp.ids[i]),
            )
            offsets = np.zeros(len(order) + 1, dtype=np.int64)
            with open(tmp / f"{name}.bin", "wb") as f:
                for k, i in enumerate(order):
                    f.write(sp.texts[i])
                    offsets[k + 1] = offsets[k] + len(sp.texts[i])
            np.save(tmp / f"{name}.offsets.npy", offsets, allow_pickle=False)
            for attr in ("labels", "ratings", "ids"):
                values = np.asarray([getattr(sp, attr)[i] for i in order], dtype=np.int64)
                np.save(tmp / f"{name}.{attr}.npy", values, allow_pickle=False)
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        try:
            os.rename(tmp, folder)
        except OSError:
            # Another process finished the same cache first: keep theirs.
            if not (folder / "meta.json").is_file():
                raise
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _class_name(split: str, label: int) -> str:
    return "unsup" if split == "unsup" else LABEL_NAMES[label]


def _read_split(folder: Path, split: str, meta: dict) -> TextDataset:
    blob = (folder / f"{split}.bin").read_bytes()
    offsets = np.load(folder / f"{split}.offsets.npy", allow_pickle=False).tolist()
    labels = np.load(folder / f"{split}.labels.npy", allow_pickle=False)
    ratings = np.load(folder / f"{split}.ratings.npy", allow_pickle=False)
    numbers = np.load(folder / f"{split}.ids.npy", allow_pickle=False)
    if len(offsets) != len(labels) + 1 or offsets[-1] != len(blob):
        raise ValueError(f"the cached copy in {folder} is inconsistent")
    texts = [blob[a:b].decode("utf-8") for a, b in zip(offsets[:-1], offsets[1:])]
    folder_name = "train" if split == "unsup" else split
    ids = [
        f"{folder_name}/{_class_name(split, int(lab))}/{num}_{rat}"
        for lab, num, rat in zip(labels.tolist(), numbers.tolist(), ratings.tolist())
    ]
    return TextDataset(
        texts=texts,
        labels=labels,
        label_names=[] if split == "unsup" else list(LABEL_NAMES),
        ids=ids,
        ratings=ratings,
        name=f"imdb-{split}",
        meta={
            "source": meta["source"],
            "sha256": meta["sha256"],
            "sha256_known": meta["sha256_known"],
            "cache": str(folder),
            "labelled": split != "unsup",
        },
    )


def _load_meta(folder: Path) -> dict | None:
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return meta if meta.get("format") == _CACHE_FORMAT else None


def _ensure_cache(source: Path, progress: bool = False) -> tuple[Path, dict]:
    """Parse ``source`` into the cache unless a parsed copy is already there.

    Returns the cache folder and its ``meta.json`` content.
    """
    folder = _cache_folder(source)
    meta = _load_meta(folder)
    if meta is not None:
        return folder, meta
    if folder.exists():  # an unreadable or old-format leftover: rebuild it
        shutil.rmtree(folder, ignore_errors=True)
    splits, sha = _parse(source, progress)
    meta = {
        "format": _CACHE_FORMAT,
        "source": str(source.resolve()),
        "sha256": sha,
        "sha256_known": sha in KNOWN_SHA256[ARCHIVE_NAME] if sha else None,
        "counts": {name: len(sp.texts) for name, sp in splits.items()},
    }
    _write_cache(folder, splits, meta)
    return folder, meta


# --------------------------------------------------------------------------- public


def _check_split(split: str | Sequence[str]) -> tuple[tuple[str, ...], bool]:
    if isinstance(split, str):
        names, single = (split,), True
    elif isinstance(split, Sequence) and split and all(isinstance(s, str) for s in split):
        names, single = tuple(split), False
    else:
        names, single = (), False
    # Not check_choice: a tuple of splits is allowed too, and the message says so.
    if not names or any(s not in IMDB_SPLITS for s in names):
        listed = ", ".join(map(repr, IMDB_SPLITS))
        raise ValueError(f"split must be one of {listed} or a tuple of them; got {split!r}")
    return names, single


def imdb(
    split: str | Sequence[str] = ("train", "test"),
    data_dir: PathLike | None = None,
    *,
    download: bool = False,
    progress: bool = True,
) -> TextDataset | tuple[TextDataset, ...]:
    """The IMDB movie reviews: ``"train"`` and ``"test"`` (25,000 each), ``"unsup"`` (50,000).

    ``split`` is one name (one :class:`TextDataset` back) or a tuple of names (a tuple back,
    in that order); the default gives ``(train, test)``. Labels are 0 = ``"neg"`` (rating
    <= 4) and 1 = ``"pos"`` (rating >= 7). The unlabelled ``"unsup"`` split has
    ``label_names == []``, every label -1 and every rating 0, so that no trainer can take it
    for a labelled set by mistake. ``ratings`` holds the stars (1-10), ``ids`` the review's
    place in the layout, e.g. ``"train/pos/12_9"``. Within a split the reviews are sorted
    negatives first, then positives, each by numeric id, so every load is identical.
    Texts are the raw reviews (they contain ``<br />`` tags).

    The data is looked up as :func:`imdb_path` describes. The first load streams the archive
    once (10-30 s for the real one; ``progress`` shows a bar), later loads read the parsed
    copy from the cache in well under 2 s. The cache follows the archive's size and time
    stamp; for an unpacked folder it follows the folders' time stamps, so a review edited in
    place is not noticed: delete ``dataset.meta["cache"]`` after such an edit.

    >>> train, test = imdb(data_dir="../shared/data/imdb")  # doctest: +SKIP
    >>> len(train), train.label_names, train.labels[:3]  # doctest: +SKIP
    (25000, ['neg', 'pos'], array([0, 0, 0]))
    """
    names, single = _check_split(split)
    source = imdb_path(data_dir, download=download, progress=progress)
    folder, meta = _ensure_cache(source, progress)
    out = []
    for name in names:
        try:
            ds = _read_split(folder, name, meta)
        except (OSError, ValueError):
            # A cache damaged after it was written (disk trouble, a manual edit): rebuild.
            shutil.rmtree(folder, ignore_errors=True)
            folder, meta = _ensure_cache(source, progress)
            ds = _read_split(folder, name, meta)
        if len(ds) == 0:
            raise ValueError(
                f"split {name!r} is empty in {source}: no files like "
                f"aclImdb/{'train' if name == 'unsup' else name}/"
                f"{'unsup' if name == 'unsup' else 'pos'}/<id>_<rating>.txt"
            )
        out.append(ds)
    return out[0] if single else tuple(out)
