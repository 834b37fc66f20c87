"""Helpers shared by the CLI tests (tests/ is on pytest's pythonpath)."""

from __future__ import annotations

import pytest

from pilotlab.cli import main


def refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run the CLI in-process; assert exit 2 and exactly one ``error:`` line on stderr; return that line."""
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    return err
