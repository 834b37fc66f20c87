"""Errors the CLI turns into exit codes (see docs: 2 = bad input, 1 = training failure)."""

from __future__ import annotations


class PilotlabError(ValueError):
    """A problem with the user's input: config, path, file contents, env id. Exit code 2."""


class TrainingError(RuntimeError):
    """Training cannot go on (NaN/Inf loss, diverged critic). Exit code 1, one-line message."""


def one_line(e: BaseException, limit: int = 300) -> str:
    """A library exception as ``Type: message`` on one line (whitespace collapsed, capped), for error messages."""
    text = " ".join(str(e).split())
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def check_finite(value: float, what: str, step: int) -> None:
    """Raise `TrainingError` when a logged loss is NaN or Inf."""
    if value != value or value in (float("inf"), float("-inf")):
        raise TrainingError(
            f"{what} is {value} at step {step}; the run stopped. Lower the learning rate "
            "or check the data; the last checkpoint is kept."
        )
