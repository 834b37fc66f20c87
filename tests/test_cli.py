"""The console script: help lists the pillars; bad input is one line and exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from pilotlab.cli import PILLARS, main


def test_help_lists_pillars(capsys) -> None:
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for pillar in ("data", "ssl"):
        assert pillar in out
    assert set(PILLARS) == {"data", "ssl", "gan", "rl", "drive", "text", "tour", "report"}


def test_python_dash_m_and_version() -> None:
    r = subprocess.run([sys.executable, "-m", "pilotlab", "--version"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.startswith("pilotlab ")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["ssl", "train", "--epochs", "zero"], "error: epochs must be an integer, got 'zero'"),
        (["ssl", "train", "--lr", "-1"], "error: lr must be > 0"),
        (["ssl", "train", "--dataset", "imagenet"], "error: unknown dataset 'imagenet'"),
        (["ssl", "train", "--method", "gpt"], "error: unknown"),
        (["rl", "train", "--algo", "a2c"], "error: unknown algorithm 'a2c'"),
        (["ssl", "train", "--resume"], "error: --resume needs --run-dir"),
        (["ssl", "train", "--config", "/nonexistent.toml"], "error: config file not found"),
        (["ssl", "train", "--bogus", "1"], "error: unrecognized arguments: --bogus 1"),
        (["data", "inspect", "imagenet"], "error: unknown dataset 'imagenet'"),
        (["nosuchpillar"], "error: argument PILLAR: invalid choice"),
    ],
)
def test_bad_input_is_one_line_exit_2(argv, message, capsys) -> None:
    try:
        code = main(argv)
    except SystemExit as e:  # argparse errors
        code = e.code
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith(message), err
    assert len(err.splitlines()) == 1 and "Traceback" not in err


def test_config_file_sets_fields_and_flags_override(tmp_path, capsys) -> None:
    cfg = tmp_path / "ae.toml"
    cfg.write_text('method = "ae"\ndataset = "digits"\nepochs = 1\nbatch_size = 64\nlatent_dim = 8\nlr = 0.5\n')
    run = tmp_path / "run"
    assert main(["ssl", "train", "--config", str(cfg), "--lr", "0.002", "--run-dir", str(run)]) == 0
    saved = json.loads((run / "config.json").read_text())["config"]
    assert saved["dataset"] == "digits" and saved["latent_dim"] == 8 and saved["lr"] == 0.002
    bad = tmp_path / "bad.toml"
    bad.write_text("latent = 3\n")
    assert main(["ssl", "train", "--config", str(bad)]) == 2
    assert "unknown config key 'latent'" in capsys.readouterr().err


def test_data_cli(capsys) -> None:
    assert main(["data", "list"]) == 0
    assert "mnist-5k" in capsys.readouterr().out
    assert main(["data", "inspect", "digits"]) == 0
    assert "(1, 8, 8)" in capsys.readouterr().out


@pytest.mark.parametrize(("pillar", "flag"), [("rl", "--algo"), ("ssl", "--method"), ("gan", "--model"),
                                              ("drive", "--algo"), ("text", "--method")])
def test_help_lists_every_choice_with_a_description(pillar: str, flag: str,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    import importlib

    cmd = importlib.import_module(PILLARS[pillar][0]).COMMANDS["train"]
    with pytest.raises(SystemExit):
        main([pillar, "train", "--help"])
    out = " ".join(capsys.readouterr().out.split()).replace("- ", "-")  # argparse wraps after hyphens
    assert flag + " {" + ",".join(cmd.variants) + "}" in out
    for name in cmd.variants:
        assert f"{name}: {' '.join(cmd.descriptions[name].split())}" in out


def _every_command() -> list[list[str]]:
    """argv prefixes of every `pilotlab <pillar> [<verb> [<sub-verb>]]`, each variant (--algo X) of a verb too."""
    import importlib

    from pilotlab.core.command import Group

    def walk(prefix: list[str], commands: dict) -> list[list[str]]:
        out = []
        for verb, cmd in commands.items():
            argv = prefix + ([verb] if verb else [])
            if isinstance(cmd, Group):
                out += walk(argv, cmd.commands)
                continue
            out.append(argv)
            flag = "--" + cmd.variant_flag.replace("_", "-") if cmd.choices else ""
            out += [[*argv, flag, name] for name in (cmd.variants if cmd.choices else ())]
        return out

    return [argv for pillar, (module, _) in PILLARS.items()
            for argv in walk([pillar], importlib.import_module(module).COMMANDS)]


def test_every_command_prints_its_help(capsys: pytest.CaptureFixture[str]) -> None:
    """`--help` works for every verb and variant: argparse %-formats help text, so a field docstring with a
    bare "%" (as in "5 % of it") once crashed `drive train-perception --help`."""
    argvs = _every_command()
    assert len(argvs) > 30 and ["drive", "train-perception"] in argvs
    for argv in argvs:
        with pytest.raises(SystemExit) as e:
            main([*argv, "--help"])
        out = capsys.readouterr().out
        assert e.value.code == 0, argv
        assert "usage: pilotlab" in out, argv
