"""One error path for the commands: a library error is one ``Error: ...`` line on standard
error, never a traceback.

* a bad input (``ValueError``, ``TypeError``, ``FileNotFoundError``, including
  :class:`seqlab.runfolder.RunFolderError`) exits with status 2, like a usage error: the
  message names the parameter, the value and the fix;
* :class:`seqlab.training.loop.TrainingDiverged` (the loss became NaN) exits with status 1:
  the input was valid, the run failed;
* Ctrl-C or SIGTERM during training (:class:`~seqlab.training.loop.TrainingInterrupted`)
  prints where the checkpoint is and how to ``--resume``, and exits with status 130 (instead
  of click's bare "Aborted!").
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

__all__ = ["INTERRUPTED", "USAGE", "user_errors"]

USAGE = 2  # exit status of a bad input, as click's usage errors
FAILED = 1
INTERRUPTED = 130  # 128 + SIGINT, the shell's convention for Ctrl-C

F = TypeVar("F", bound=Callable[..., Any])


class _Failure(click.ClickException):
    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


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
            raise _Failure(_one_line(exc), FAILED) from None
        except (ValueError, TypeError, FileNotFoundError) as exc:
            raise _Failure(_one_line(exc), USAGE) from None
        except KeyboardInterrupt as exc:
            # TrainingInterrupted says where the checkpoint is and names --resume
            message = getattr(exc, "message", None) or (
                "interrupted outside the training loop; no checkpoint was written"
            )
            click.echo(message, err=True)
            sys.exit(INTERRUPTED)

    return wrapper  # type: ignore[return-value]


def _one_line(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, KeyError):  # str(KeyError) is the quoted key
        text = text.strip("'\"")
    return " ".join(text.split())
