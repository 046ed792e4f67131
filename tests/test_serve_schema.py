"""Property-based tests of `seqlab serve` generated from its own OpenAPI schema
(Schemathesis): for every endpoint, generated requests (valid and invalid) never get a 500,
and every answer matches the schema (status codes, content types, error bodies)."""

from __future__ import annotations

import pytest

pytest.importorskip(
    "fastapi", reason="the serve tests need the serve extra: pip install -e '.[dev]'"
)
schemathesis = pytest.importorskip(
    "schemathesis", reason="the schema tests need schemathesis: pip install -e '.[dev]'"
)

from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis.specs.openapi import checks  # noqa: E402

from _tiny_transformer import tiny_transformer_run  # noqa: E402
from seqlab.serve import Limits, create_app  # noqa: E402


@pytest.fixture(scope="module")
def served_schema(serve_runs):
    # Small limits keep each generated request cheap (a generation is 20 tokens at most).
    limits = Limits(max_length=20, max_texts=4, max_text_chars=300, max_words=8, max_topn=5)
    paths = [serve_runs["bow"], serve_runs["nz"], serve_runs["vectors"]]
    app = create_app(paths, limits=limits, allowed_hosts=["*"])
    return schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.fixture(scope="module")
def attention_schema(tmp_path_factory):
    # A transformer run alone: a request without "model" reaches it, so the 200 path of
    # POST /v1/attention is generated too.
    run = tiny_transformer_run(tmp_path_factory.mktemp("schema") / "tf")
    app = create_app([run], limits=Limits(max_text_chars=300), allowed_hosts=["*"])
    return schemathesis.openapi.from_asgi("/openapi.json", app)


CHECKS = [
    schemathesis.checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]


def test_serve_schema_no_500_and_answers_match_the_schema(served_schema):
    operations = [result.ok() for result in served_schema.get_all_operations()]
    assert {f"{op.method.upper()} {op.path}" for op in operations} == {
        "GET /v1/models",
        "POST /v1/classify",
        "POST /v1/attention",
        "POST /v1/generate",
        "GET /v1/neighbors",
        "POST /v1/project",
    }
    _fuzz(operations)


def test_serve_schema_attention_of_a_transformer_run(attention_schema):
    operations = [result.ok() for result in attention_schema.get_all_operations()]
    _fuzz([op for op in operations if op.path == "/v1/attention"])


def _fuzz(operations) -> None:
    assert operations
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=25,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def check(case):
            case.call_and_validate(checks=CHECKS)

        check()
