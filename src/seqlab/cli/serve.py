"""``seqlab serve``: serve trained runs over HTTP with a web page (see :mod:`seqlab.serve`).

For example::

    seqlab serve runs/demo                       # every run folder that seqlab demo wrote
    seqlab serve runs/lstm runs/nz vectors.safetensors --port 8080
    seqlab serve sentiment=runs/lstm glove=glove.6B.50d.txt.gz --embeddings-limit 50000
    seqlab serve runs/demo --host 0.0.0.0 --allowed-host lab.example.org   # from other machines
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

import click

from seqlab.cli.errors import BAD_INPUT, usage_error
from seqlab.cli.options import device_option

__all__ = ["serve"]


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _named(runs: tuple[str, ...]) -> list[str | tuple[str, str]]:
    # NAME=PATH names a model; a path that exists as written is never split at "=".
    from pathlib import Path

    out: list[str | tuple[str, str]] = []
    for item in runs:
        name, sep, path = item.partition("=")
        out.append((name, path) if sep and name and path and not Path(item).exists() else item)
    return out


# The per-request and per-connection limits: (flag, default, help), in --help order.
_LIMITS = [
    ("--max-text-chars", 5_000, "Characters per text or prompt."),
    ("--max-texts", 64, "Texts per classify request."),
    ("--max-length", 2_000, "Tokens per generation."),
    ("--max-body-bytes", 1_000_000, "Request body size (413)."),
    ("--timeout", 30.0, "Seconds of work per request: 504 past it, and the work stops there."),
    (
        "--max-explain-tokens",
        2_000,
        "Tokens explained by occlusion per request (one forward pass each; 422 past it).",
    ),
    ("--max-queue", 64, "Requests waiting or running per model; past it 503 with Retry-After."),
    ("--read-timeout", 10.0, "Seconds to receive a request's headers, and its body (408)."),
    ("--max-connections", 1000, "Open connections and running requests at once (503 past it)."),
]


def _limit_options(command: Callable[..., None]) -> Callable[..., None]:
    for flag, default, text in reversed(_LIMITS):
        command = click.option(flag, default=default, show_default=True, help=text)(command)
    return command


@click.command("serve")
@click.argument("runs", nargs=-1, required=True)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to bind; the default is reachable from this machine only.",
)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@_limit_options
@click.option(
    "--allowed-host",
    "allowed_hosts",
    multiple=True,
    help="A name the Host header may give besides the bound address and localhost / "
    "127.0.0.1 / [::1] (421 otherwise: DNS rebinding); repeatable, '*' allows any.",
)
@click.option(
    "--batch/--no-batch",
    default=True,
    show_default=True,
    help="Gather concurrent classify requests into one forward pass.",
)
@click.option("--max-batch", default=64, show_default=True, help="Most texts in one batch.")
@click.option(
    "--batch-wait-ms",
    default=5.0,
    show_default=True,
    help="Under concurrent load, how long a batch waits for more texts (a lone client never waits).",
)
@click.option(
    "--embeddings-limit",
    type=int,
    default=None,
    help="Read only the first N words of GloVe / word2vec files.",
)
@device_option
@click.option(
    "--log-level",
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
    default="info",
    show_default=True,
)
def serve(
    runs: tuple[str, ...],
    host: str,
    port: int,
    max_text_chars: int,
    max_texts: int,
    max_length: int,
    max_body_bytes: int,
    timeout: float,
    max_explain_tokens: int,
    max_queue: int,
    read_timeout: float,
    max_connections: int,
    allowed_hosts: tuple[str, ...],
    batch: bool,
    max_batch: int,
    batch_wait_ms: float,
    embeddings_limit: int | None,
    device: str,
    log_level: str,
) -> None:
    """Serve RUNS (classifier / language-model run folders, a folder of runs such as
    seqlab demo's, or word-vector files; NAME=PATH names one) over HTTP, with a web page
    at http://HOST:PORT/ and the API under /v1 (docs at /docs)."""
    try:
        import fastapi  # noqa: F401
        import uvicorn
    except ImportError as exc:
        raise click.ClickException(
            f"seqlab serve needs FastAPI and uvicorn ({exc.name} is missing): "
            "pip install 'seqlab[serve]'"
        ) from exc
    from seqlab.serve.app import Limits, create_app
    from seqlab.serve.http import server_config

    try:
        limits = Limits(
            max_text_chars=max_text_chars,
            max_texts=max_texts,
            max_length=max_length,
            max_body_bytes=max_body_bytes,
            timeout_s=timeout,
            max_explain_tokens=max_explain_tokens,
            max_queue=max_queue,
            read_timeout_s=read_timeout,
        )
        if max_connections < 1:
            raise ValueError(f"--max-connections must be >= 1, got {max_connections}")
        app = create_app(
            _named(runs),
            limits=limits,
            batch=batch,
            max_batch=max_batch,
            batch_wait_ms=batch_wait_ms,
            device=device,
            embeddings_limit=embeddings_limit,
            allowed_hosts=[host, *allowed_hosts],
        )
    except BAD_INPUT as exc:
        raise usage_error(exc) from None
    for model in app.state.models.values():
        click.echo(f"loaded {model.kind:<10} {model.name}  ({model.source})")
    _warn_if_public(host, allowed_hosts)
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"serving on http://{shown}:{port}/  (API docs: /docs; Ctrl+C stops)")
    config = server_config(
        app,
        host,
        port,
        read_timeout_s=read_timeout,
        max_connections=max_connections,
        log_level=log_level,
    )
    uvicorn.Server(config).run()


def _warn_if_public(host: str, allowed_hosts: tuple[str, ...]) -> None:
    """Say so when the server is reachable from other machines (it has no authentication)."""
    if _is_loopback(host):
        return
    click.echo(
        f"warning: --host {host} makes the server reachable from other machines; "
        "it has no authentication",
        err=True,
    )
    if host in ("0.0.0.0", "::") and not allowed_hosts:
        click.echo(
            "warning: requests must name this server as localhost; add --allowed-host "
            "with the name or address that other machines use",
            err=True,
        )
