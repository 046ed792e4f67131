"""download(): against a real HTTP server on 127.0.0.1 that honours (or ignores) Range."""

from __future__ import annotations

import hashlib
import http.server
import io
import tarfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

import seqlab.data.imdb as imdb_module
import seqlab.data.imdb_keras as imdb_keras
from seqlab.data.download import KNOWN_MD5, KNOWN_SHA256, download, sha256_file

PAYLOAD = bytes(range(256)) * 400  # 102,400 bytes, every byte value


@dataclass
class Server:
    """What the handler serves and what it saw."""

    files: dict[str, bytes] = field(default_factory=lambda: {"/data/file.bin": PAYLOAD})
    ignore_range: bool = False
    cut_after: int | None = None  # promise the full length, then hang up after this many bytes
    ranges: list[str | None] = field(default_factory=list)
    sent: list[int] = field(default_factory=list)
    port: int = 0

    def url(self, path: str = "/data/file.bin") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


def _handler(state: Server) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # keep the test output clean
            pass

        def do_GET(self) -> None:
            data = state.files.get(self.path)
            if data is None:
                self.send_error(404, "Not Found")
                return
            header = self.headers.get("Range")
            state.ranges.append(header)
            start = 0
            if header and not state.ignore_range:
                start = int(header.removeprefix("bytes=").split("-")[0])
                if start >= len(data):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(data)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                self.send_response(200)
            body = data[start:]
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Content-Type", "application/octet-stream")
            self.end_headers()
            if state.cut_after is not None:
                body = body[: state.cut_after]
            self.wfile.write(body)
            state.sent.append(len(body))
            self.close_connection = True

    return Handler


@pytest.fixture
def server() -> Iterator[Server]:
    state = Server()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


SHA = hashlib.sha256(PAYLOAD).hexdigest()


def test_data_download_writes_the_file_and_checks_it(server: Server, tmp_path: Path) -> None:
    dest = download(server.url(), tmp_path / "out.bin", sha256=SHA, progress=False)
    assert dest == tmp_path / "out.bin"
    assert dest.read_bytes() == PAYLOAD
    assert not (tmp_path / "out.bin.part").exists()
    assert server.ranges == [None]


def test_data_download_into_a_folder_takes_the_url_name(server: Server, tmp_path: Path) -> None:
    dest = download(server.url(), tmp_path, progress=False)
    assert dest == tmp_path / "file.bin" and dest.read_bytes() == PAYLOAD


def test_data_download_resumes_a_partial_file(server: Server, tmp_path: Path) -> None:
    part = tmp_path / "out.bin.part"
    part.write_bytes(PAYLOAD[:40_000])
    dest = download(server.url(), tmp_path / "out.bin", sha256=SHA, progress=False)
    assert dest.read_bytes() == PAYLOAD
    assert server.ranges == ["bytes=40000-"]
    assert server.sent == [len(PAYLOAD) - 40_000]  # only the missing bytes travelled
    assert not part.exists()


def test_data_download_restarts_when_the_server_ignores_range(
    server: Server, tmp_path: Path
) -> None:
    server.ignore_range = True
    (tmp_path / "out.bin.part").write_bytes(b"stale bytes that must not survive")
    dest = download(server.url(), tmp_path / "out.bin", sha256=SHA, progress=False)
    assert dest.read_bytes() == PAYLOAD
    assert server.sent == [len(PAYLOAD)]


def test_data_download_complete_part_file_is_finished(server: Server, tmp_path: Path) -> None:
    (tmp_path / "out.bin.part").write_bytes(PAYLOAD)  # every byte already there: HTTP 416
    dest = download(server.url(), tmp_path / "out.bin", sha256=SHA, progress=False)
    assert dest.read_bytes() == PAYLOAD


def test_data_download_interrupted_then_resumed(server: Server, tmp_path: Path) -> None:
    server.cut_after = 30_000
    with pytest.raises(ConnectionError, match="call download again to resume"):
        download(server.url(), tmp_path / "out.bin", sha256=SHA, progress=False)
    part = tmp_path / "out.bin.part"
    assert part.read_bytes() == PAYLOAD[:30_000]
    assert not (tmp_path / "out.bin").exists()

    server.cut_after = None
    dest = download(server.url(), tmp_path / "out.bin", sha256=SHA, progress=False)
    assert dest.read_bytes() == PAYLOAD
    assert server.ranges[-1] == "bytes=30000-"


def test_data_download_checksum_mismatch_removes_the_file(server: Server, tmp_path: Path) -> None:
    wrong = "0" * 64
    with pytest.raises(ValueError, match="checksum mismatch") as info:
        download(server.url(), tmp_path / "out.bin", sha256=wrong, progress=False)
    assert SHA in str(info.value) and wrong in str(info.value)
    assert not (tmp_path / "out.bin").exists()
    assert not (tmp_path / "out.bin.part").exists()


def test_data_download_accepts_any_of_several_digests(server: Server, tmp_path: Path) -> None:
    dest = download(server.url(), tmp_path / "out.bin", sha256=["f" * 64, SHA], progress=False)
    assert dest.read_bytes() == PAYLOAD


def test_data_download_existing_file_is_verified_not_fetched(
    server: Server, tmp_path: Path
) -> None:
    dest = tmp_path / "out.bin"
    dest.write_bytes(PAYLOAD)
    assert download(server.url(), dest, sha256=SHA, progress=False) == dest
    assert server.ranges == []  # no request
    dest.write_bytes(b"something else")
    with pytest.raises(ValueError, match="already exists"):
        download(server.url(), dest, sha256=SHA, progress=False)
    assert dest.read_bytes() == b"something else"  # a file we did not write is not deleted


def test_data_download_errors(server: Server, tmp_path: Path) -> None:
    with pytest.raises(ConnectionError, match="404"):
        download(server.url("/missing.bin"), tmp_path / "x", progress=False)
    with pytest.raises(ValueError, match="http"):
        download("ftp://example.org/file", tmp_path / "x")
    with pytest.raises(ValueError, match="64 hex digits"):
        download(server.url(), tmp_path / "x", sha256="abc")
    with pytest.raises(ValueError, match="md5 must be 32 hex digits"):
        download(server.url(), tmp_path / "x", md5=SHA)


def test_data_download_checks_an_md5(server: Server, tmp_path: Path) -> None:
    md5 = hashlib.md5(PAYLOAD).hexdigest()
    dest = download(server.url(), tmp_path / "out.bin", md5=md5, sha256=SHA, progress=False)
    assert dest.read_bytes() == PAYLOAD
    with pytest.raises(ValueError, match=f"checksum mismatch for .*: md5 {md5} is not one of"):
        download(server.url(), tmp_path / "other.bin", md5="0" * 32, progress=False)
    assert not (tmp_path / "other.bin").exists()


def test_data_download_progress_bar_runs(server: Server, tmp_path: Path, capsys) -> None:
    download(server.url(), tmp_path / "out.bin", progress=True)
    err = capsys.readouterr().err
    assert "out.bin" in err and "100%" in err


def test_data_download_known_imdb_digests(shared_data: Path) -> None:
    accepted = KNOWN_SHA256["aclImdb_v1.tar.gz"]
    assert "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe" in accepted
    assert sha256_file(shared_data / "imdb" / "aclImdb_v1.tar.gz") in accepted


def test_data_download_imdb_download_true_fetches_into_the_cache(
    server: Server, tmp_path: Path, monkeypatch
) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, text in (("train/pos/0_9.txt", b"Great."), ("test/neg/0_1.txt", b"Bad.")):
            info = tarfile.TarInfo(f"aclImdb/{name}")
            info.size = len(text)
            tar.addfile(info, io.BytesIO(text))
    archive = buf.getvalue()
    server.files["/aclImdb_v1.tar.gz"] = archive
    monkeypatch.setenv("SEQLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("SEQLAB_DATA", raising=False)
    monkeypatch.setattr(imdb_module, "IMDB_URL", server.url("/aclImdb_v1.tar.gz"))
    monkeypatch.setitem(KNOWN_SHA256, "aclImdb_v1.tar.gz", (hashlib.sha256(archive).hexdigest(),))

    with pytest.raises(FileNotFoundError):  # download=False: nothing is fetched
        imdb_module.imdb("train")
    assert server.ranges == []
    train, test = imdb_module.imdb(download=True, progress=False)
    assert train.texts == ["Great."] and test.texts == ["Bad."]
    assert (tmp_path / "cache" / "downloads" / "aclImdb_v1.tar.gz").read_bytes() == archive
    imdb_module.imdb("train")  # found in the cache now, no second request
    assert len(server.ranges) == 1


def _keras_npz_bytes() -> bytes:
    """A small file in the format of Keras's imdb.npz (object arrays of id lists)."""
    x_train, x_test = np.empty(2, dtype=object), np.empty(1, dtype=object)
    x_train[0], x_train[1], x_test[0] = [11, 19, 13], [40, 12], [11, 527]
    buf = io.BytesIO()
    np.savez(buf, x_train=x_train, y_train=np.array([1, 0]), x_test=x_test, y_test=np.array([1]))
    return buf.getvalue()


def test_data_download_keras_imdb_files_from_keras_origin(
    server: Server, tmp_path: Path, monkeypatch
) -> None:
    npz, index = _keras_npz_bytes(), b'{"the": 1, "and": 2}'
    server.files.update({"/keras/imdb.npz": npz, "/keras/imdb_word_index.json": index})
    monkeypatch.setenv("SEQLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.delenv("SEQLAB_DATA", raising=False)
    monkeypatch.setattr(imdb_keras, "KERAS_ORIGIN", server.url("/keras/"))
    # Keras's own digests are checked: these small files are not Keras's, so they are refused
    assert KNOWN_SHA256["imdb.npz"] == (
        "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f",
    )
    assert KNOWN_MD5["imdb_word_index.json"] == ("bfafd718b763782e994055a2d397834f",)
    with pytest.raises(ValueError, match="checksum mismatch for .*/keras/imdb.npz: sha256"):
        imdb_keras.load_data(download=True, progress=False)
    assert not (tmp_path / "cache" / "downloads" / "imdb_keras" / "imdb.npz").exists()

    monkeypatch.setitem(KNOWN_SHA256, "imdb.npz", (hashlib.sha256(npz).hexdigest(),))
    monkeypatch.setitem(KNOWN_MD5, "imdb_word_index.json", (hashlib.md5(index).hexdigest(),))
    (x_train, y_train), (x_test, y_test) = imdb_keras.load_data(download=True, progress=False)
    # RandomState(113) leaves 2 reviews in their order; ids + 3 after start 1; num_words=None:
    # the largest id, 530, becomes oov 2
    assert list(x_train) == [[1, 14, 22, 16], [1, 43, 15]] and y_train.tolist() == [1, 0]
    assert list(x_test) == [[1, 14, 2]] and y_test.tolist() == [1]
    folder = tmp_path / "cache" / "downloads" / "imdb_keras"
    assert (folder / "imdb.npz").read_bytes() == npz
    assert (folder / "imdb_word_index.json").read_bytes() == index
    requests = len(server.ranges)
    assert imdb_keras.get_word_index(source="keras") == {"the": 1, "and": 2}
    imdb_keras.load_data()  # found in the cache now: no warning, no request
    assert len(server.ranges) == requests == 3  # the refused npz, then the two files
