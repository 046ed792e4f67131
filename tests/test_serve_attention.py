"""`POST /v1/attention` of `seqlab serve`: a transformer run's attention matrix, and its refusals."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip(
    "fastapi", reason="the serve tests need the serve extra: pip install -e '.[dev]'"
)
pytest.importorskip("httpx", reason="FastAPI's TestClient needs httpx: pip install -e '.[dev]'")

from fastapi.testclient import TestClient  # noqa: E402

import seqlab  # noqa: E402
from _tiny_transformer import tiny_transformer_run  # noqa: E402
from seqlab.attention import attention_map  # noqa: E402
from seqlab.serve import Limits, create_app  # noqa: E402

LOCAL = "http://localhost"
TEXT = "a wonderful, moving film with a terrific cast but a dull plot"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("serve-attention")
    return {
        "tf": tiny_transformer_run(root / "tf"),
        "lstm": tiny_transformer_run(root / "lstm", "lstm"),
    }


@pytest.fixture(scope="module")
def tf_run(runs):
    return runs["tf"]


@pytest.fixture(scope="module")
def client(runs):
    app = create_app([runs["lstm"], runs["tf"]], limits=Limits(max_text_chars=300))
    with TestClient(app, base_url=LOCAL, raise_server_exceptions=False) as c:
        yield c


def test_serve_attention_returns_the_runs_tokens_and_matrix(client, tf_run):
    response = client.post("/v1/attention", json={"model": "tf", "text": TEXT})
    assert response.status_code == 200, response.text
    data = response.json()
    expected = attention_map(seqlab.load(tf_run), TEXT)
    assert data["tokens"] == expected.tokens == TEXT.replace(",", "").split()
    np.testing.assert_allclose(data["matrix"], expected.matrix, atol=1e-6)
    np.testing.assert_allclose(np.sum(data["matrix"], axis=1), 1.0, atol=1e-5)
    assert (data["model"], data["label"], data["total_tokens"]) == ("tf", expected.label, 12)
    assert (data["layer"], data["head"], data["layers"], data["heads"]) == (0, None, 1, 2)
    # one head, and the first 5 tokens only; the one transformer is found without "model"
    data = client.post("/v1/attention", json={"text": TEXT, "head": 1, "max_shown": 5}).json()
    head = attention_map(seqlab.load(tf_run), TEXT, head=1)
    assert data["tokens"] == head.tokens[:5] and data["total_tokens"] == 12
    np.testing.assert_allclose(data["matrix"], head.matrix[:5, :5], atol=1e-6)


def test_serve_attention_models_say_which_runs_have_attention(client):
    models = {m["name"]: m for m in client.get("/v1/models").json()["models"]}
    assert {name: m["attention"] for name, m in models.items()} == {"lstm": False, "tf": True}


BAD = [
    ({"model": "lstm", "text": "a film"}, 422, "model",
     "model 'lstm' is a 'lstm' run; attention weights exist only for --model transformer "
     "runs; use one of ['tf']"),
    ({"model": "nope", "text": "a film"}, 404, "model", "no model named 'nope'"),
    ({"model": "tf", "text": "a film", "layer": 1}, 422, "layer",
     "layer=1 is out of range: the model has 1 layer; give 0 (or -1 from the end)"),
    ({"model": "tf", "text": "a film", "head": 2}, 422, "head",
     "head=2 is out of range: the model has 2 heads; give 0 to 1"),
    ({"model": "tf", "text": "a film", "max_shown": 0}, 422, "max_shown",
     "max_shown=0 is outside [1, 200]; ask for 1 to 200 tokens"),
    ({"model": "tf", "text": "a film", "max_shown": 201}, 422, "max_shown",
     "max_shown=201 is outside [1, 200]"),
    ({"model": "tf", "text": "x" * 301}, 422, "text",
     "text has 301 characters, more than max_text_chars=300"),
    ({"model": "tf", "text": " ,, "}, 422, "text", "text ' ,, ' has no tokens"),
    ({"model": "tf"}, 422, "text", "text: Field required"),
    ({"model": "tf", "text": "a", "layers": 2}, 422, "layers", "layers: Extra inputs"),
    ({"model": "tf", "text": "a", "layer": "last"}, 422, "layer", "layer: Input should be"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "status", "field", "message"), BAD)
def test_serve_attention_bad_requests_are_clear_4xx(client, body, status, field, message):
    response = client.post("/v1/attention", json=body)
    assert response.status_code == status, response.text
    data = response.json()
    assert data["field"] == field and data["error"].startswith(message)
    assert data["fix"] or data.get("errors")


def test_serve_attention_without_a_transformer_says_so(runs):
    app = create_app([runs["lstm"]])
    with TestClient(app, base_url=LOCAL) as c:
        data = c.post("/v1/attention", json={"text": "a film"}).json()
    assert data["status"] == 422 and data["fix"] == "start the server with a transformer run"
