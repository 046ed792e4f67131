"""`seqlab serve` against heavy and hostile clients: deadlines that stop the work, bounded
queues, Host checks, read timeouts, and 422 (never 500) for input the JSON parser chokes on.

Deadlines are tested with injected clocks that count units of work, not with wall time;
the connection-level limits with a real uvicorn server on a free loopback port and raw
sockets, with timeouts of a fraction of a second.
"""

from __future__ import annotations

import itertools
import json
import logging
import socket
import struct
import threading
import time

import numpy as np
import pytest

from _sse import sse_events

pytest.importorskip(
    "fastapi", reason="the serve tests need the serve extra: pip install -e '.[dev]'"
)
pytest.importorskip("httpx", reason="FastAPI's TestClient needs httpx: pip install -e '.[dev]'")
pytest.importorskip("uvicorn", reason="the serve tests need the serve extra")

import uvicorn  # noqa: E402
from click.testing import CliRunner  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

import seqlab  # noqa: E402
from seqlab.cli.main import cli  # noqa: E402
from seqlab.embeddings import KeyedVectors  # noqa: E402
from seqlab.serve import Limits, create_app, load_models  # noqa: E402
from seqlab.serve.http import server_config  # noqa: E402
from seqlab.serve.routes.generate import cut_at_stop  # noqa: E402
from seqlab.serve.work import Gate  # noqa: E402

LOCAL = "http://localhost"
LONG_REVIEW = " ".join(f"word{i % 50} good bad film" for i in range(60))  # 240 tokens


@pytest.fixture(scope="module", autouse=True)
def _private_cache(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SEQLAB_CACHE", str(tmp_path_factory.mktemp("serve-cache")))
        yield


@pytest.fixture(scope="module")
def client(serve_runs):
    app = create_app([serve_runs["demo"], serve_runs["nz"], serve_runs["vectors"]])
    with TestClient(app, base_url=LOCAL, raise_server_exceptions=False) as c:
        yield c


_events = sse_events


def _post_raw(client, path: str, raw: bytes):
    return client.post(path, content=raw, headers={"content-type": "application/json"})


# ------------------------------------------------------------------ deadlines stop the work


def _module_calls(app, name: str) -> list[int]:
    # Counts every forward pass of the model's modules: the unit the deadline is checked on.
    calls = [0]

    def count(module, args):
        calls[0] += 1

    for module in app.state.models[name].obj.model.modules():
        module.register_forward_pre_hook(count)
    return calls


@pytest.mark.parametrize("batch", [True, False])
def test_serve_explanation_stops_at_its_deadline(serve_runs, batch):
    body = {"texts": [LONG_REVIEW] * 3, "method": "occlusion"}
    free = create_app([serve_runs["lstm"]], batch=batch)
    full = _module_calls(free, "lstm")
    with TestClient(free, base_url=LOCAL) as c:
        assert c.post("/v1/classify", json=body).status_code == 200
    # The clock is the number of forward passes so far: the deadline passes after 12.
    counted: list[list[int]] = []
    app = create_app(
        [serve_runs["lstm"]],
        batch=batch,
        limits=Limits(timeout_s=12),
        clock=lambda: counted[0][0] if counted else 0,
    )
    counted.append(_module_calls(app, "lstm"))
    calls = counted[0]
    with TestClient(app, base_url=LOCAL) as c:
        response = c.post("/v1/classify", json=body)
        assert response.status_code == 504
        assert "timeout_s=12" in response.json()["error"]
        assert response.json()["field"] == "timeout_s"
        # The work stopped at the first check past the deadline, long before the end.
        assert 12 <= calls[0] <= 13 < full[0] // 2
        calls[0] = 0  # the queue is free again: the next request runs in full
        light = c.post("/v1/classify", json={"texts": ["good"], "explain": False})
        assert light.status_code == 200
        assert app.state.models["lstm"].queue.stats()["in_flight"] == 0


def test_serve_generation_stops_at_its_deadline(serve_runs):
    ticks = itertools.count()  # every read of the clock is one second later
    app = create_app([serve_runs["nz"]], limits=Limits(timeout_s=5), clock=lambda: next(ticks))
    with TestClient(app, base_url=LOCAL) as c:
        events = _events(c.post("/v1/generate", json={"prompt": "the ", "length": 50}).text)
    # the deadline is set at 0 + 5 and read before each token: 4 tokens, then the error
    assert [e for e, _ in events] == ["start"] + ["token"] * 4 + ["error"]
    assert events[-1][1]["status"] == 504 and "after 4 tokens" in events[-1][1]["error"]
    assert app.state.models["nz"].queue.stats()["in_flight"] == 0


def test_serve_explain_token_cap_is_a_clear_422(serve_runs):
    app = create_app([serve_runs["lstm"]], limits=Limits(max_explain_tokens=300))
    with TestClient(app, base_url=LOCAL) as c:
        response = c.post("/v1/classify", json={"texts": [LONG_REVIEW, LONG_REVIEW]})
        assert response.status_code == 422
        body = response.json()
        assert body["field"] == "explain"
        assert "480 tokens, more than max_explain_tokens=300" in body["error"]
        assert "--max-explain-tokens" in body["error"] and "grad_x_input" in body["error"]
        # one text fits; a gradient explanation or none at all is not capped
        assert c.post("/v1/classify", json={"texts": [LONG_REVIEW]}).status_code == 200
        cheap = {"texts": [LONG_REVIEW] * 2, "method": "grad_x_input"}
        assert c.post("/v1/classify", json=cheap).status_code == 200
        plain = {"texts": [LONG_REVIEW] * 2, "explain": False}
        assert c.post("/v1/classify", json=plain).status_code == 200


def test_serve_full_queue_answers_503_with_retry_after(serve_runs):
    app = create_app([serve_runs["bow"]], limits=Limits(max_queue=1))
    batcher = app.state.models["bow"].batcher
    original, started, release = batcher.fn, threading.Event(), threading.Event()

    def slow(texts):
        started.set()
        release.wait(10)
        return original(texts)

    batcher.fn = slow
    with TestClient(app, base_url=LOCAL) as c:
        first: dict = {}
        body = {"texts": ["good"], "explain": False}
        worker = threading.Thread(target=lambda: first.update(r=c.post("/v1/classify", json=body)))
        worker.start()
        assert started.wait(10)
        response = c.post("/v1/classify", json=body)
        release.set()
        worker.join(10)
        assert response.status_code == 503 and response.headers["retry-after"] == "1"
        assert "max_queue=1" in response.json()["error"] and "--max-queue" in response.json()["fix"]
        assert first["r"].status_code == 200
        queue = c.get("/v1/models").json()["models"][0]["queue"]
        assert queue == {"in_flight": 0, "max_queue": 1, "refused": 1}


def test_serve_explanations_yield_to_waiting_predictions():
    gate = Gate(max_wait_s=10)
    passed = threading.Event()
    thread = threading.Thread(target=lambda: (gate.yield_to_predictions(), passed.set()))
    with gate.busy():
        thread.start()
        assert not passed.wait(0.2)  # a prediction is pending: the explanation waits
    assert passed.wait(5)  # and goes on as soon as there is none
    thread.join()
    quick = Gate(max_wait_s=0.01)
    with quick.busy():
        quick.yield_to_predictions()  # but never longer than max_wait_s


# ------------------------------------------------------------------ status codes


ODD_BODIES = [
    # (path, raw JSON body, field, words in the message)
    ("/v1/generate", b'{"prompt": "the ", "temperature": NaN}', "temperature", "NaN"),
    ("/v1/generate", b'{"prompt": "the ", "top_p": Infinity}', "top_p", "Infinity"),
    ("/v1/generate", b'{"prompt": "the ", "temperature": 1e999}', "temperature", "finite"),
    ("/v1/generate", b'{"prompt": "the \\ud800"}', "prompt", "lone surrogate"),
    ("/v1/generate", b'{"prompt": "the ", "stop": ["\\udfff"]}', "stop[0]", "lone surrogate"),
    ("/v1/classify", b'{"model": "bow", "texts": ["ok", "\\ud800"]}', "texts[1]", "surrogate"),
    ("/v1/classify", b'{"model": "bow", "texts": ["caf\xe9"]}', "texts[0]", "not UTF-8"),
    ("/v1/project", b'{"words": ["the", "\\ud800"]}', "words[1]", "lone surrogate"),
    ("/v1/classify", b"[" * 100_000 + b"]" * 100_000, "body", "100000 deep"),
    ("/v1/generate", b'{"prompt": "a", "seed": ' + b"9" * 5000 + b"}", "seed", "5000 char"),
    (
        "/v1/generate",
        b'{"prompt": "a", "temperature": 0.' + b"1" * 5000 + b"}",
        "temperature",
        "5002 char",
    ),  # fmt: skip
]


@pytest.mark.parametrize(("path", "raw", "field", "words"), ODD_BODIES)
def test_serve_odd_json_is_422_naming_the_field(client, path, raw, field, words):
    response = _post_raw(client, path, raw)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["field"] == field and words in body["error"]
    assert "/v1" not in body["error"]


def test_serve_head_of_the_page_is_200_without_a_body(client):
    response = client.head("/")
    assert response.status_code == 200 and response.content == b""
    assert response.headers["content-type"].startswith("text/html")
    assert int(response.headers["content-length"]) == len(client.get("/").content)


def test_serve_host_header_must_name_this_server(serve_runs):
    app = create_app([serve_runs["bow"]], allowed_hosts=["lab.example.org"])
    with TestClient(app, base_url=LOCAL) as c:
        for host in ("localhost:8000", "127.0.0.1", "[::1]:8000", "LAB.example.org:80"):
            assert c.get("/v1/models", headers={"host": host}).status_code == 200, host
        response = c.get("/v1/models", headers={"host": "attacker.example"})
        assert response.status_code == 421
        body = response.json()
        assert body["field"] == "Host" and "'attacker.example'" in body["error"]
        assert "--allowed-host" in body["error"]
    with TestClient(create_app([serve_runs["bow"]], allowed_hosts=["*"])) as c:
        assert c.get("/v1/models", headers={"host": "anything.example"}).status_code == 200


# ------------------------------------------------------------------ stop strings stream


def test_serve_stop_string_streams_token_by_token_and_counts_tokens(client):
    body = {"prompt": "the ", "length": 40, "seed": 3}
    events = _events(client.post("/v1/generate", json=body).text)
    full = "".join(d["text"] for e, d in events if e == "token")
    # a stop string that is never generated holds nothing back: one event per token
    long_stop = "\x00" * 30
    events = _events(client.post("/v1/generate", json={**body, "stop": [long_stop]}).text)
    tokens = [d["text"] for e, d in events if e == "token"]
    assert len(tokens) == 40 and "".join(tokens) == full
    assert events[-1] == ("done", {**events[-1][1], "tokens": 40, "stopped": False})
    # a stop string that is reached ends the text before it; every sampled token counts
    stop = full[20:23]
    events = _events(client.post("/v1/generate", json={**body, "stop": [stop]}).text)
    text = "".join(d["text"] for e, d in events if e == "token")
    cut = full.index(stop)
    assert text == full[:cut]
    assert events[-1][1]["tokens"] == cut + len(stop) and events[-1][1]["stopped"] is True


def test_serve_cut_at_stop_holds_back_only_a_possible_start():
    assert cut_at_stop("hello wor", ["world peace"]) == ("hello ", "wor", False)
    assert cut_at_stop("hello", ["world peace"]) == ("hello", "", False)
    assert cut_at_stop("abcab", ["abd", "bz"]) == ("abc", "ab", False)
    assert cut_at_stop("xx. y", [". ", "y"]) == ("xx", "", True)


# ------------------------------------------------------------------ vectors with NaN


def test_serve_vectors_with_nan_or_inf_are_refused_naming_the_words(tmp_path):
    with pytest.raises(ValueError, match=r"2 word\(s\) hold NaN or infinity: 'bad', 'worse'"):
        KeyedVectors(["ok", "bad", "worse"], np.array([[1, 0], [np.nan, 1], [0, np.inf]]))
    glove = tmp_path / "broken.txt"
    glove.write_text("king 0.1 0.2\nqueen nan 0.3\nman 0.5 0.1\n", encoding="utf-8")
    with pytest.raises(ValueError, match="'queen'"):
        seqlab.embeddings.load(glove)
    with pytest.raises(ValueError, match="'queen'"):
        load_models([glove])
    # seqlab embed refuses them too (its one-line message is the command line's business)
    result = CliRunner().invoke(cli, ["embed", "neighbors", str(glove), "king"])
    assert result.exit_code == 2 and "'queen'" in result.output


# ------------------------------------------------------------------ a real server


@pytest.fixture(scope="module")
def live(serve_runs):
    app = create_app([serve_runs["bow"], serve_runs["nz"]], limits=Limits(read_timeout_s=0.5))
    config = server_config(
        app, "127.0.0.1", 0, read_timeout_s=0.5, max_connections=6, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start within 30 s")
        time.sleep(0.02)
    yield server.servers[0].sockets[0].getsockname()[1]
    server.should_exit = True
    thread.join(timeout=10)


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    return sock


def _read_all(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def test_serve_slow_body_is_cut_off_with_408(live):
    start = time.monotonic()
    with _connect(live) as sock:
        sock.sendall(
            b"POST /v1/classify HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json"
            b"\r\nContent-Length: 1000\r\n\r\n" + b'{"texts": '
        )
        answer = _read_all(sock)  # ends: the server closed the connection
    assert time.monotonic() - start < 4
    assert answer.startswith(b"HTTP/1.1 408 ")
    body = json.loads(answer.split(b"\r\n\r\n", 1)[1])
    assert body["field"] == "body" and "read_timeout_s=0.5" in body["error"]


def test_serve_slow_headers_are_cut_off_with_408(live):
    start = time.monotonic()
    with _connect(live) as sock:
        sock.sendall(b"GET /v1/models HTTP/1.1\r\nHost: local")
        answer = _read_all(sock)
    assert time.monotonic() - start < 4
    assert answer.startswith(b"HTTP/1.1 408 ") and b'"field": "headers"' in answer


def test_serve_live_host_check_and_connection_limit(live):
    with _connect(live) as sock:
        sock.sendall(b"GET /v1/models HTTP/1.1\r\nHost: attacker.example\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 421 ")
    idle = [_connect(live) for _ in range(6)]  # max_connections=6
    try:
        time.sleep(0.1)
        with _connect(live) as sock:
            sock.sendall(b"GET /v1/models HTTP/1.1\r\nHost: localhost\r\n\r\n")
            assert sock.recv(65536).startswith(b"HTTP/1.1 503 ")
    finally:
        for sock in idle:
            sock.close()


def test_serve_connection_reset_is_logged(live, caplog):
    body = json.dumps({"prompt": "the ", "length": 2000, "seed": 0}).encode()
    with caplog.at_level(logging.WARNING, logger="seqlab.serve"):
        sock = _connect(live)
        sock.sendall(
            b"POST /v1/generate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json"
            + f"\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        assert sock.recv(1024).startswith(b"HTTP/1.1 200 ")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()  # linger 0: a reset, not a goodbye
        deadline = time.monotonic() + 10
        while not caplog.records and time.monotonic() < deadline:
            time.sleep(0.05)
    messages = [r.getMessage() for r in caplog.records]
    assert any("lost during /v1/generate" in m for m in messages), messages


def test_the_last_explanation_to_end_gives_the_heap_back(monkeypatch):
    import asyncio

    from seqlab.serve import work

    calls: list[int] = []
    monkeypatch.setattr(work, "trim_heap", lambda: calls.append(1) or True)
    queue = work.ModelQueue("m", max_queue=4, explain_slots=2)

    async def two_explanations() -> None:
        deadline = work.Deadline(10.0)
        async with queue.explaining(deadline):
            async with queue.explaining(deadline):
                pass
            assert calls == []  # one explanation still runs
        assert calls == [1]

    asyncio.run(two_explanations())


def test_serve_queue_gives_a_place_back_from_inside_its_own_lock():
    # A stream's place is given back by weakref.finalize when the stream is collected, and
    # the collector can fire inside ModelQueue.enter while this thread holds the queue's
    # lock: that release must not wait for the lock (a plain Lock hung the test suite).
    from seqlab.serve.work import ModelQueue

    queue = ModelQueue("m", max_queue=2)
    first = queue.enter()
    done = threading.Event()

    def release_under_the_lock() -> None:
        with queue._lock:
            first()
            queue.enter()
        done.set()

    threading.Thread(target=release_under_the_lock, daemon=True).start()
    assert done.wait(10), "releasing a place under the queue's lock deadlocked"
    assert queue.in_flight == 1 and queue.refused == 0
    first()  # once, however often it is called
    assert queue.in_flight == 1
