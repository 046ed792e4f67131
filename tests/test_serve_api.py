"""`seqlab serve`'s HTTP API, in process (FastAPI's TestClient), on tiny real runs."""

from __future__ import annotations

import asyncio
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from _sse import sse_events

pytest.importorskip(
    "fastapi", reason="the serve tests need the serve extra: pip install -e '.[dev]'"
)
pytest.importorskip("httpx", reason="FastAPI's TestClient needs httpx: pip install -e '.[dev]'")

from click.testing import CliRunner  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

import seqlab  # noqa: E402
from seqlab.cli.main import cli  # noqa: E402
from seqlab.serve import Limits, MicroBatcher, create_app, load_models  # noqa: E402

LOCAL = "http://localhost"  # the server refuses other Host names (DNS rebinding)


@pytest.fixture(scope="module", autouse=True)
def _private_cache(tmp_path_factory):
    # GloVe text files get a binary cache copy: keep it out of the user's cache folder.
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SEQLAB_CACHE", str(tmp_path_factory.mktemp("serve-cache")))
        yield


def _paths(runs):
    return [runs["demo"], runs["nz"], runs["vectors"], runs["glove"]]


@pytest.fixture(scope="module")
def app(serve_runs):
    return create_app(_paths(serve_runs), batch=True, batch_wait_ms=20)


@pytest.fixture(scope="module")
def client(app):
    with TestClient(app, base_url=LOCAL, raise_server_exceptions=False) as c:
        yield c


_events = sse_events


def _generated(client, **body) -> tuple[str, list[tuple[str, dict]]]:
    response = client.post("/v1/generate", json=body)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    events = _events(response.text)
    return "".join(d["text"] for e, d in events if e == "token"), events


# ------------------------------------------------------------------ models


def test_serve_models_lists_every_run_with_its_kind(client, serve_runs):
    data = client.get("/v1/models").json()
    kinds = {m["name"]: m["kind"] for m in data["models"]}
    # the demo folder expands into its run folders; files are named without their suffixes
    assert kinds == {
        "bow": "classifier",
        "lstm": "classifier",
        "nz": "lm",
        "vectors": "embeddings",
        "glove": "embeddings",
    }
    bow = next(m for m in data["models"] if m["name"] == "bow")
    assert bow["labels"] == ["neg", "pos"] and bow["explain_methods"] == ["occlusion"]
    assert bow["attention"] is False  # POST /v1/attention: transformer runs only
    assert data["limits"]["max_text_chars"] == Limits().max_text_chars
    assert data["batching"] is True
    vectors = next(m for m in data["models"] if m["name"] == "vectors")
    assert vectors["dim"] == 16 and vectors["words"] > 100


def test_serve_load_models_names_and_refusals(serve_runs, tmp_path):
    models = load_models([("sentiment", serve_runs["bow"]), serve_runs["vectors"]])
    assert sorted(models) == ["sentiment", "vectors"]
    archive = tmp_path / "vectors.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(serve_runs["glove"], "glove.txt")
    zipped = load_models([f"{archive}::glove.txt"], embeddings_limit=50)["glove"]
    assert zipped.kind == "embeddings" and zipped.info["words"] == 50
    with pytest.raises(ValueError, match="two models are named 'bow'"):
        load_models([serve_runs["demo"], serve_runs["bow"]])
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_models([tmp_path / "nowhere"])
    with pytest.raises(FileNotFoundError, match="no run folders"):
        load_models([tmp_path])
    with pytest.raises(TypeError, match="wrap it in a list"):
        load_models(str(serve_runs["bow"]))


# ------------------------------------------------------------------ classify


def test_serve_classify_returns_label_probabilities_and_token_scores(client, serve_runs):
    run = seqlab.load(serve_runs["bow"])
    text = "A wonderful, moving film"
    response = client.post("/v1/classify", json={"model": "bow", "texts": [text, "dull"]})
    assert response.status_code == 200, response.text
    data = response.json()
    first = data["results"][0]
    proba = run.predict_proba([text, "dull"])
    np.testing.assert_allclose(
        [r["probabilities"]["pos"] for r in data["results"]], proba[:, 1], atol=1e-6
    )
    assert first["label"] == run.labels[int(proba[0].argmax())]
    assert first["probability"] == pytest.approx(float(proba[0].max()), abs=1e-6)
    # the explanation's tokens are the vectorizer's words, each with its occlusion score
    expected = run.explain(text, target=int(proba[0].argmax()))
    assert [t["token"] for t in first["tokens"]] == ["a", "wonderful", "moving", "film"]
    np.testing.assert_allclose([t["score"] for t in first["tokens"]], [s for _, s in expected])


def test_serve_classify_sequence_model_with_gradient_scores(client, serve_runs):
    run = seqlab.load(serve_runs["lstm"])
    body = {"model": "lstm", "texts": ["an instant classic"], "method": "grad_x_input"}
    result = client.post("/v1/classify", json=body).json()["results"][0]
    assert [t["token"] for t in result["tokens"]] == ["an", "instant", "classic"]
    expected = run.explain(
        "an instant classic", "grad_x_input", target=run.labels.index(result["label"])
    )
    np.testing.assert_allclose(
        [t["score"] for t in result["tokens"]], [s for _, s in expected], atol=1e-6
    )


def test_serve_classify_without_explanation_and_with_empty_text(client):
    data = client.post(
        "/v1/classify", json={"model": "bow", "texts": [""], "explain": False}
    ).json()
    assert "tokens" not in data["results"][0]
    data = client.post("/v1/classify", json={"model": "lstm", "texts": ["", "good"]}).json()
    assert data["results"][0]["tokens"] == [] and len(data["results"][1]["tokens"]) == 1


# ------------------------------------------------------------------ generate


def test_serve_generate_streams_tokens_and_same_seed_gives_same_text(client, serve_runs):
    body = {"model": "nz", "prompt": "the will to ", "length": 40, "temperature": 0.8, "seed": 7}
    text, events = _generated(client, **body)
    assert [e for e, _ in events][0] == "start" and events[-1][0] == "done"
    assert events[0][1]["seed"] == 7 and events[-1][1]["tokens"] == 40
    assert sum(e == "token" for e, _ in events) == 40  # one event per generated character
    again, _ = _generated(client, **body)
    assert again == text
    lm = seqlab.load(serve_runs["nz"])
    assert text == lm.generate("the will to ", length=40, temperature=0.8, seed=7)
    other, _ = _generated(client, **{**body, "seed": 8})
    assert other != text


def test_serve_generate_without_seed_reports_the_seed_it_used(client):
    text, events = _generated(client, prompt="truth ", length=30)  # the only lm: no model needed
    seed = events[0][1]["seed"]
    assert isinstance(seed, int)
    assert _generated(client, prompt="truth ", length=30, seed=seed)[0] == text


def test_serve_generate_stop_string_ends_the_text(client):
    full, _ = _generated(client, prompt="the ", length=60, seed=1)
    stop = full[10:12]
    cut, _ = _generated(client, prompt="the ", length=60, seed=1, stop=[stop])
    assert cut == full[: full.index(stop)]


@pytest.fixture(scope="module")
def gpt_run(tmp_path_factory):
    """A tiny transformer language model (context 16), beside the LSTM one."""
    out = tmp_path_factory.mktemp("serve-gpt") / "gpt"
    seqlab.lm.train(text=seqlab.lm.load_corpus("nietzsche")[:12000], model="transformer",
                    steps=3, block_size=16, d_model=32, num_layers=2, num_heads=2, batch_size=8,
                    out=out, device="cpu", progress=False, seed=0)  # fmt: skip
    return out


def test_serve_generate_with_a_transformer_lm(serve_runs, gpt_run):
    # 60 characters after a 12-character prompt: generation runs past the context of 16 on
    # the key/value cache, and gives the text of the library's cached and uncached loops.
    app = create_app([serve_runs["nz"], gpt_run])
    with TestClient(app, base_url=LOCAL, raise_server_exceptions=False) as c:
        kinds = {m["name"]: m["kind"] for m in c.get("/v1/models").json()["models"]}
        assert kinds == {"nz": "lm", "gpt": "lm"}
        body = {"model": "gpt", "prompt": "the will to ", "length": 60, "temperature": 0.8,
                "top_k": 20, "seed": 3}  # fmt: skip
        text, events = _generated(c, **body)
        assert events[0][1]["seed"] == 3 and events[-1][1]["tokens"] == 60
        assert sum(e == "token" for e, _ in events) == 60
        lm = seqlab.load(gpt_run)
        settings = dict(length=60, temperature=0.8, top_k=20, seed=3)
        assert text == lm.generate("the will to ", **settings)
        assert text == lm.generate("the will to ", loop="full", **settings)
        stop = text[30:32]
        cut, events = _generated(c, **body, stop=[stop])
        assert cut == text[: text.index(stop)] and events[-1][1]["stopped"] is True
        bad = c.post("/v1/generate", json={"model": "gpt", "prompt": "snow \u2603"})
        assert bad.status_code == 422 and bad.json()["field"] == "prompt"


# ------------------------------------------------------------------ embeddings


def test_serve_neighbors_match_keyed_vectors(client, serve_runs):
    kv = seqlab.embeddings.KeyedVectors.load(serve_runs["vectors"])
    word = kv.index_to_key[5]
    for model in ("vectors", "glove"):  # the safetensors file and the GloVe text file
        data = client.get("/v1/neighbors", params={"word": word, "topn": 4, "model": model}).json()
        expected = kv.most_similar(word, topn=4)
        assert [n["word"] for n in data["neighbors"]] == [w for w, _ in expected]
        np.testing.assert_allclose(
            [n["similarity"] for n in data["neighbors"]], [s for _, s in expected], atol=1e-5
        )


def test_serve_project_gives_2d_points_and_lists_unknown_words(client, serve_runs):
    kv = seqlab.embeddings.KeyedVectors.load(serve_runs["vectors"])
    words = kv.index_to_key[:6]
    body = {"model": "vectors", "words": [*words, "qqqzzz", words[0]]}
    data = client.post("/v1/project", json=body).json()
    assert [p["word"] for p in data["points"]] == words
    assert data["missing"] == ["qqqzzz"]
    expected = seqlab.embeddings.pca_2d(kv[words])
    np.testing.assert_allclose([[p["x"], p["y"]] for p in data["points"]], expected, atol=1e-5)


# ------------------------------------------------------------------ bad input

LONG = "x" * (Limits().max_text_chars + 1)
BAD_REQUESTS = [
    # (method, path, json body or params, status, field)
    ("post", "/v1/classify", {"model": "nope", "texts": ["a"]}, 404, "model"),
    ("post", "/v1/classify", {"texts": ["a"]}, 422, "model"),  # two classifiers: say which
    ("post", "/v1/classify", {"model": "nz", "texts": ["a"]}, 422, "model"),  # not a classifier
    ("post", "/v1/classify", {"model": "bow", "texts": "a review"}, 422, "texts"),
    ("post", "/v1/classify", {"model": "bow", "text": ["a"], "texts": ["a"]}, 422, "text"),
    ("post", "/v1/classify", {"model": "bow"}, 422, "texts"),
    ("post", "/v1/classify", {"model": "bow", "texts": []}, 422, "texts"),
    ("post", "/v1/classify", {"model": "bow", "texts": ["ok", LONG]}, 422, "texts[1]"),
    ("post", "/v1/classify", {"model": "bow", "texts": ["a"] * 65}, 422, "texts"),
    (
        "post",
        "/v1/classify",
        {"model": "bow", "texts": ["a"], "method": "grad_x_input"},
        422,
        "method",
    ),
    ("post", "/v1/classify", {"model": "bow", "texts": ["a"], "method": "magic"}, 422, "method"),
    ("post", "/v1/generate", {"prompt": "the ", "length": 5000}, 422, "length"),
    ("post", "/v1/generate", {"prompt": "the ", "length": 0}, 422, "length"),
    ("post", "/v1/generate", {"prompt": "the ", "temperature": 0}, 422, "temperature"),
    ("post", "/v1/generate", {"prompt": "the ", "top_p": 1.5}, 422, "top_p"),
    ("post", "/v1/generate", {"prompt": "the ", "top_k": 0}, 422, "top_k"),
    ("post", "/v1/generate", {"prompt": "the ", "seed": -1}, 422, "seed"),
    ("post", "/v1/generate", {"prompt": ""}, 422, "prompt"),
    ("post", "/v1/generate", {"prompt": "snow \u2603 man"}, 422, "prompt"),
    ("post", "/v1/generate", {"prompt": LONG}, 422, "prompt"),
    ("post", "/v1/generate", {"model": "vectors", "prompt": "a"}, 422, "model"),
    ("get", "/v1/neighbors", {"word": "qqqzzz", "model": "vectors"}, 404, "word"),
    ("get", "/v1/neighbors", {"word": "the", "model": "vectors", "topn": 0}, 422, "topn"),
    ("get", "/v1/neighbors", {"word": "the", "model": "vectors", "topn": "ten"}, 422, "topn"),
    ("get", "/v1/neighbors", {"model": "vectors"}, 422, "word"),
    ("get", "/v1/neighbors", {"word": "the", "model": "gone"}, 404, "model"),
    ("post", "/v1/project", {"model": "vectors", "words": ["the", "qqqzzz"]}, 422, "words"),
    ("get", "/v1/nothing", {}, 404, "path"),
]


@pytest.mark.parametrize(("method", "path", "payload", "status", "field"), BAD_REQUESTS)
def test_serve_bad_requests_get_clear_4xx_json(client, method, path, payload, status, field):
    if method == "post":
        response = client.post(path, json=payload)
    else:
        response = client.get(path, params=payload)
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == status and body["field"] == field
    assert field.split("[")[0] in body["error"] or status == 404  # the message names the field
    assert body["fix"] or body.get("errors")  # and says what to do


def test_serve_error_messages_echo_the_value_and_the_fix(client):
    body = client.post("/v1/generate", json={"prompt": "the ", "length": 5000}).json()
    assert "length=5000" in body["error"] and "ask for 1 to 2000 tokens" in body["error"]
    body = client.get("/v1/neighbors", params={"word": "thw", "model": "vectors"}).json()
    assert "'thw'" in body["error"] and "did you mean" in body["error"]
    body = client.post("/v1/classify", json={"model": "nope", "texts": ["a"]}).json()
    assert "'nope'" in body["error"] and "'bow'" in body["error"]


def test_serve_malformed_json_is_422(client):
    response = client.post(
        "/v1/classify", content=b'{"texts": [', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["field"] == "body" and "valid JSON" in response.json()["error"]


def test_serve_body_over_the_limit_is_413(serve_runs):
    app = create_app([serve_runs["bow"]], limits=Limits(max_body_bytes=2_000))
    with TestClient(app, base_url=LOCAL) as c:
        response = c.post("/v1/classify", json={"texts": ["word " * 1_000]})
        assert response.status_code == 413
        assert "max_body_bytes=2000" in response.json()["error"]
        # chunked upload without Content-Length: counted as it arrives
        chunks = iter([b'{"texts": ["', b"a" * 3_000, b'"]}'])
        response = c.post(
            "/v1/classify", content=chunks, headers={"content-type": "application/json"}
        )
        assert response.status_code == 413
        assert c.post("/v1/classify", json={"texts": ["fine"]}).status_code == 200


def test_serve_slow_requests_time_out(serve_runs):
    app = create_app([serve_runs["lstm"], serve_runs["nz"]], limits=Limits(timeout_s=1e-6))
    with TestClient(app, base_url=LOCAL) as c:
        response = c.post("/v1/classify", json={"texts": ["a long enough review " * 20]})
        assert response.status_code == 504
        assert "timeout_s" in response.json()["error"] and "--timeout" in response.json()["error"]
        # a stream has sent its headers already: it ends with an error event instead
        events = _events(c.post("/v1/generate", json={"prompt": "the ", "length": 50}).text)
        assert events[-1][0] == "error" and events[-1][1]["status"] == 504


def test_serve_stays_up_after_a_failing_request(app, client):
    batcher = app.state.models["bow"].batcher
    original = batcher.fn

    def broken(texts):
        raise RuntimeError("weights on fire")

    batcher.fn = broken
    try:
        response = client.post("/v1/classify", json={"model": "bow", "texts": ["a"]})
    finally:
        batcher.fn = original
    assert response.status_code == 500
    assert "RuntimeError: weights on fire" in response.json()["error"]
    assert client.post("/v1/classify", json={"model": "bow", "texts": ["a"]}).status_code == 200
    assert client.get("/v1/models").status_code == 200


# ------------------------------------------------------------------ batching


def test_serve_batching_gives_the_probabilities_of_unbatched_runs(app, client, serve_runs):
    texts = [f"review number {i}: {'good ' * (i % 4)}{'bad ' * (i % 3)}film" for i in range(24)]
    unbatched = create_app([serve_runs["lstm"]], batch=False)
    with TestClient(unbatched, base_url=LOCAL) as plain:

        def both(text):
            body = {"model": "lstm", "texts": [text], "explain": False}
            one = client.post("/v1/classify", json=body).json()["results"][0]["probabilities"]
            body.pop("model")
            two = plain.post("/v1/classify", json=body).json()["results"][0]["probabilities"]
            return one["pos"], two["pos"]

        with ThreadPoolExecutor(12) as pool:
            pairs = list(pool.map(both, texts))
    batched, alone = np.array(pairs).T
    np.testing.assert_allclose(batched, alone, atol=1e-6)
    run = seqlab.load(serve_runs["lstm"])
    np.testing.assert_allclose(batched, run.predict_proba(texts)[:, 1], atol=1e-6)
    models = {m["name"]: m for m in client.get("/v1/models").json()["models"]}
    stats = models["lstm"]["batching"]
    assert stats["largest_batch"] > 1  # concurrent requests did share a forward pass
    assert "batching" not in unbatched.state.models["lstm"].describe()


def test_serve_micro_batcher_gathers_and_isolates_failures():
    calls = []

    def fn(texts):
        calls.append(list(texts))
        if "bad" in texts:
            raise ValueError("cannot read 'bad'")
        return np.array([[len(t)] for t in texts])

    batcher = MicroBatcher(fn, max_batch=8, max_wait_ms=50)

    async def many():
        jobs = [batcher.submit([w]) for w in ["a", "bb", "bad", "dddd"]]
        return await asyncio.gather(*jobs, return_exceptions=True)

    results = asyncio.run(many())
    assert [r.tolist() for r in results if not isinstance(r, Exception)] == [[[1]], [[2]], [[4]]]
    assert isinstance(results[2], ValueError)
    assert calls[0] == ["a", "bb", "bad", "dddd"]  # one batch first, then one by one
    assert calls[1:] == [["a"], ["bb"], ["bad"], ["dddd"]]
    assert batcher.stats()["batches"] == 3  # the good ones, each on its own


def test_serve_micro_batcher_respects_max_batch():
    sizes = []
    batcher = MicroBatcher(lambda t: sizes.append(len(t)) or np.zeros((len(t), 1)), max_batch=3)

    async def many():
        return await asyncio.gather(*[batcher.submit(["x"]) for _ in range(7)])

    assert len(asyncio.run(many())) == 7
    assert max(sizes) <= 3 and sum(sizes) == 7
    with pytest.raises(ValueError, match="max_batch"):
        MicroBatcher(lambda t: t, max_batch=0)


# ------------------------------------------------------------------ page and CLI


def test_serve_page_and_static_files(client):
    page = client.get("/")
    assert page.status_code == 200 and 'role="tablist"' in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for name in ("app.js", "style.css"):
        assert client.get(f"/static/{name}").status_code == 200
    assert client.get("/static/../app.py").status_code == 404  # no way out of static/
    paths = client.get("/openapi.json").json()["paths"].keys()
    assert paths >= {"/v1/classify", "/v1/attention", "/v1/generate"}


def test_serve_cli_starts_uvicorn_on_loopback(serve_runs, monkeypatch):
    import uvicorn

    seen = {}
    monkeypatch.setattr(uvicorn.Server, "run", lambda self: seen.update(config=self.config))
    args = ["serve", f"reviews={serve_runs['bow']}", str(serve_runs["nz"]), "--no-batch",
            "--max-length", "100", "--port", "8123", "--read-timeout", "2.5",
            "--max-connections", "50", "--max-queue", "7"]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    config = seen["config"]
    assert config.host == "127.0.0.1" and config.port == 8123
    assert config.limit_concurrency == 50 and config.http.read_timeout_s == 2.5
    app = config.app
    assert sorted(app.state.models) == ["nz", "reviews"]
    assert app.state.limits.max_length == 100 and app.state.batch is False
    assert app.state.limits.max_queue == 7 and app.state.limits.read_timeout_s == 2.5
    assert "http://127.0.0.1:8123/" in result.output


def test_serve_cli_reports_bad_paths_and_a_missing_fastapi(serve_runs, tmp_path, monkeypatch):
    result = CliRunner().invoke(cli, ["serve", str(tmp_path / "missing")])
    assert result.exit_code != 0 and "does not exist" in result.output
    monkeypatch.setitem(sys.modules, "fastapi", None)  # as if the serve extra were absent
    result = CliRunner().invoke(cli, ["serve", str(serve_runs["bow"])])
    assert result.exit_code != 0 and "pip install 'seqlab[serve]'" in result.output
