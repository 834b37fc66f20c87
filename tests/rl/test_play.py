"""`pilotlab rl play`: moves piped into stdin, the board and messages checked on stdout."""

from __future__ import annotations

import io

import pytest

from pilotlab.cli import main


def play(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], moves: str,
         *args: str) -> tuple[int, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(moves))
    code = main(["rl", "play", "--simulations", "300", *args])
    return code, capsys.readouterr().out


def test_rejects_bad_input_and_ends_on_eof(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = play(monkeypatch, capsys, "abc\n10\n5\n5\n")
    assert code == 0
    assert "you are X" in out
    assert "invalid move: type a number from 1 to 9, got 'abc'" in out
    assert "invalid move: 10 is not a legal move" in out
    assert "invalid move: 5 is not a legal move" in out  # cell 5 was taken by the human's own move
    assert " 4 | X | 6" in out
    assert "MCTS plays" in out
    assert out.rstrip().endswith("end of input; game abandoned")


def test_full_game_mcts_does_not_lose(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # the human tries cells 1..9 in order; taken cells are refused, so every game reaches its end
    code, out = play(monkeypatch, capsys, "".join(f"{c}\n" for c in range(1, 10)) * 2)
    assert code == 0
    last = out.rstrip().splitlines()[-1]
    assert last in ("draw", "MCTS wins")


def test_mcts_can_move_first_and_quit(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = play(monkeypatch, capsys, "q\n", "--no-human-first", "--seed", "3")
    assert code == 0
    assert "you are O" in out
    assert out.index("MCTS plays") < out.index("your move")
    assert out.rstrip().endswith("game abandoned")


def test_connect_four(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = play(monkeypatch, capsys, "4\n8\n4\n", "--game", "connect-four", "--simulations", "50")
    assert code == 0
    assert " 1 2 3 4 5 6 7" in out
    assert "invalid move: 8 is not a legal move; legal: 1, 2, 3, 4, 5, 6, 7" in out
    assert out.count("MCTS plays") == 2


def test_bad_simulations_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rl", "play", "--simulations", "0"]) == 2
    assert capsys.readouterr().err.startswith("error: simulations must be >= 1")
