"""One error path for the commands: a library error is one ``Error: ...`` line on standard
error, never a traceback.

* a bad input (``ValueError``, ``TypeError``, ``FileNotFoundError``, including
  :class:`seqlab.runfolder.RunFolderError`) exits with status 2, like a usage error: the
  message names the parameter, the value and the fix;
* :class:`seqlab.training.loop.TrainingDiverged` (the loss became NaN) exits with status 1:
  the input was valid, the run failed;
* a file that cannot be read (``OSError``: a truncated ``.gz``, a permission, ...) or an
  unknown word (``KeyError``) exits with status 2; running out of memory (the model or batch
  is too large for this machine) exits with status 1 and names the sizes that were set;
* Ctrl-C or SIGTERM during training (:class:`~seqlab.training.loop.TrainingInterrupted`)
  prints where the checkpoint is and how to ``--resume``, and exits with status 130 (instead
  of click's bare "Aborted!").

The library's messages name Python arguments (``encoding=``, ``resume=True``,
``batch_size=4``); under a command they are rewritten to the command's flags
(:func:`cli_message`), or to what to do where the command has no such flag.
"""

from __future__ import annotations

import functools
import re
import sys
import zlib
from collections.abc import Callable
from typing import Any, TypeVar

import click

__all__ = ["BAD_INPUT", "INTERRUPTED", "USAGE", "cli_message", "usage_error", "user_errors"]

USAGE = 2  # exit status of a bad input, as click's usage errors
FAILED = 1
INTERRUPTED = 130  # 128 + SIGINT, the shell's convention for Ctrl-C

F = TypeVar("F", bound=Callable[..., Any])


class _Failure(click.ClickException):
    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


# Python-argument advice that no command has a flag for, and what to tell instead.
_NO_FLAG_HINTS: tuple[tuple[str, str], ...] = (
    (
        r"pass encoding= \(the files' real encoding\) or fallback_encoding='cp1252'",
        "convert the files to UTF-8 first (e.g. iconv -f cp1252 -t utf-8)",
    ),
    (
        r"pass encoding= \(e\.g\. 'latin-1'\)|pass the file's real encoding, e\.g\. "
        r"encoding='latin-1'",
        "convert the file to UTF-8 first (e.g. iconv -f latin1 -t utf-8)",
    ),
    (r"pass format='csv', 'tsv' or 'jsonl'", "name the file *.csv, *.tsv or *.jsonl"),
    (r"pass format='text', 'jsonl' or 'tsv'", "name the file *.txt, *.jsonl or *.tsv"),
    (r"remove them, or pass errors='ignore' to drop them", "remove them from the text"),
    (r"pass errors='ignore' to drop them", "remove them from the text"),
)
# Python arguments whose flag is not their name with dashes.
_FLAG_OF: dict[str, str] = {
    "resume=True": "--resume",
    "resume=False": "--overwrite",
    "on_bad_lines='skip'": "--skip-bad-lines",
    "skip_blank_rows=True": "--skip-blank-rows",
}
# "lower lr", "set clip_grad_norm", "a smaller batch_size": a bare argument name after advice.
_BARE = re.compile(
    r"\b(lower|raise|set|drop|a smaller|a larger|a longer|a shorter) ([a-z][a-z0-9]*(?:_[a-z0-9]+)*)\b(?![=(])"
)
_ARGUMENT = re.compile(r"\b([a-z][a-z0-9_]*)=('[^']*'|\[[^\]]*\]|[^\s,;)]+)?")


def cli_message(text: str, command: click.Command | None = None) -> str:
    """``text`` (a library message) with its Python arguments written as the flags of
    ``command`` (the current command when None): ``batch_size=4`` -> ``--batch-size 4``.

    >>> cmd = click.Command("x", params=[click.Option(["--batch-size"], type=int)])
    >>> cli_message("made with batch_size=4; pass resume=False", cmd)
    'made with --batch-size 4; pass --overwrite'
    """
    if command is None:
        context = click.get_current_context(silent=True)
        command = context.command if context is not None else None
    flags = {o for p in (command.params if command else ()) for o in getattr(p, "opts", ())}
    for pattern, advice in _NO_FLAG_HINTS:
        text = re.sub(pattern, advice, text)
    for argument, flag in _FLAG_OF.items():
        text = text.replace(argument, flag)

    def as_flag(match: re.Match[str]) -> str:
        flag = "--" + match.group(1).replace("_", "-")
        if flag not in flags:
            return match.group(0)
        value = match.group(2)
        return flag if value in (None, "True") else f"{flag} {value.strip(chr(39))}"

    def bare(match: re.Match[str]) -> str:  # "lower lr", "set clip_grad_norm"
        flag = "--" + match.group(2).replace("_", "-")
        if flag in flags:
            return f"{match.group(1)} {flag}"
        if "--set" in flags and "_" in match.group(2):
            return f"{match.group(1)} --set {match.group(2)}=..."
        return match.group(0)

    text = _BARE.sub(bare, _ARGUMENT.sub(as_flag, text))
    # "--head softmax (--head softmax)": the library named the flag next to the argument
    return re.sub(r"(--([a-z][a-z0-9-]*)(?: [^\s()]+)?) \(--\2(?: [^\s()]+)?\)", r"\1", text)


# What a bad input raises: a library error, an unknown word, a file that cannot be read.
BAD_INPUT = (ValueError, TypeError, KeyError, OSError, EOFError, zlib.error)


def usage_error(exc: BaseException) -> click.ClickException:
    """The one-line CLI error (status 2) for the bad-input error ``exc``, for a command that
    catches errors around its setup only (``seqlab serve``).

    >>> usage_error(ValueError("batch_size must be > 0")).exit_code
    2
    """
    return _Failure(cli_message(_one_line(exc)), USAGE)


def user_errors(func: F) -> F:
    """Decorate a click command so that library errors become one-line CLI errors (see the
    module docstring for the exit statuses)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from seqlab.training.loop import TrainingDiverged

        try:
            return func(*args, **kwargs)
        except click.ClickException:
            raise
        except TrainingDiverged as exc:
            raise _Failure(cli_message(_one_line(exc)), FAILED) from None
        except MemoryError as exc:
            raise _Failure(_out_of_memory(exc), FAILED) from None
        except RuntimeError as exc:
            if _is_out_of_memory(exc):
                raise _Failure(_out_of_memory(exc), FAILED) from None
            if "without overflow" in str(exc):  # e.g. --set lr=1e300 reaching the optimizer
                raise _Failure(
                    f"a number given does not fit a float32 ({_one_line(exc)}); give smaller "
                    f"values (at most 3.4e38){_given_settings()}",
                    USAGE,
                ) from None
            raise
        except BAD_INPUT as exc:
            raise usage_error(exc) from None
        except KeyboardInterrupt as exc:
            # TrainingInterrupted says where the checkpoint is and names --resume
            message = getattr(exc, "message", None) or (
                "interrupted outside the training loop; no checkpoint was written"
            )
            click.echo(message, err=True)
            sys.exit(INTERRUPTED)

    return wrapper  # type: ignore[return-value]


def _is_out_of_memory(exc: RuntimeError) -> bool:
    text = str(exc)
    return "out of memory" in text.lower() or "can't allocate memory" in text


def _out_of_memory(exc: BaseException) -> str:
    """Out of memory: what was tried, and the sizes given on the command line to lower."""
    detail = re.search(r"allocate (?:memory: you tried to allocate )?([0-9.]+ ?\w+)", str(exc))
    asked = f" (an allocation of {detail.group(1)} failed)" if detail else ""
    given = _given(("hidden_size", "embedding_dim", "batch_size", "max_tokens", "maxlen"))
    sizes = f"lower the sizes given ({', '.join(given)})" if given else "lower the model sizes"
    return f"not enough memory for the model or its batches{asked}; {sizes}"


def _given(names: tuple[str, ...] = ("lr",)) -> list[str]:
    """The ``--set`` settings and the flags ``names`` given to the current command."""
    context = click.get_current_context(silent=True)
    params = context.params if context is not None else {}
    given = [f"--set {s}" for key in ("set_", "settings") for s in params.get(key, ()) or ()]
    return given + [
        f"--{name.replace('_', '-')} {params[name]}" for name in names if params.get(name)
    ]


def _given_settings() -> str:
    given = _given()
    return f" (given: {', '.join(given)})" if given else ""


def _one_line(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, KeyError):  # str(KeyError) is the quoted key
        text = text.strip("'\"")
    elif isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        text = f"{exc.filename}: {exc.strerror}"
    elif isinstance(exc, (EOFError, zlib.error)) or type(exc).__name__ == "BadGzipFile":
        text = f"the file is damaged or truncated ({text})"
    return " ".join(text.split())
