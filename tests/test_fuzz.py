"""Property-based fuzzing of every command: a bad value of any config field, or a damaged file of a run
directory, ends in exit code 2, one line ``error: ...`` on stderr, no traceback, and no file changed.

Two families:

- config fields: for every command (pillar, verb and variant) and every field, Hypothesis draws values
  that no field of that type may take (non-finite or non-numeric numbers, integers out of range or with a
  fraction, strings outside a choice, junk JSON, paths that cannot be used) and passes them on the command
  line or in a ``--config`` file. A command that accepts a bad value reaches its first write, which is
  stopped here and reported as a failure.
- run-directory files: every JSON/JSONL/safetensors file of real (tiny) runs is cut, garbled, replaced by
  other JSON or loses a key, then the commands that read it run (resume, eval, report). Either the damage
  is harmless and the command succeeds, or it fails with one line and the run directory is unchanged.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import importlib
import io
import json
import math
import shutil
import string
import typing
from pathlib import Path
from typing import Any, Literal
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pilotlab.cli import PILLARS, main
from pilotlab.core.command import Group
from pilotlab.core.config import INT_MAX, _hints, _unwrap_optional
from pilotlab.core.run import RunDir
from pilotlab.rl import presets

FUZZ = settings(max_examples=6, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


class Accepted(Exception):
    """Raised at a command's first write: the bad value got through validation."""


def _commands() -> list[tuple[str, list[str], type]]:
    """(id, argv prefix, config class) for every pillar, verb and variant."""
    out = []
    for pillar, (module, _) in PILLARS.items():
        commands = importlib.import_module(module).COMMANDS
        flat = []
        for verb, cmd in commands.items():
            if isinstance(cmd, Group):  # pilotlab <pillar> <verb> <sub-verb>
                flat += [([pillar, verb, sub], sub_cmd) for sub, sub_cmd in cmd.commands.items()]
            else:
                flat.append(([pillar] + ([verb] if verb else []), cmd))
        for prefix, cmd in flat:
            if cmd.variants:
                flag = "--" + cmd.variant_flag.replace("_", "-")
                for name in cmd.variants:
                    out.append((f"{' '.join(prefix)} {name}", [*prefix, flag, name], cmd.variants[name]))
            else:
                out.append((" ".join(prefix), prefix, cmd.config_class()))
    return out


COMMANDS = _commands()
CASES = [
    (cid, prefix, cls, f.name)
    for cid, prefix, cls in COMMANDS
    for f in dataclasses.fields(cls)
    if not (f.name in ("algo", "method", "model") and cid.split()[-1] == getattr(cls, f.name, None))
]

# -- bad values, by field type -------------------------------------------------------------------------
BAD_FLOATS = st.sampled_from(["nan", "NaN", "inf", "-inf", "1e999", "-1e400", "abc", "", "1,5", "0x10", "--"]) | (
    st.text(string.ascii_letters + "%$#@", min_size=1, max_size=8)
)
BAD_INTS = (
    st.sampled_from(["nan", "inf", "1.5", "-0.5", "1e30", "-1e30", "abc", "", "2147483648", "-1", "1e-3"])
    | st.integers(max_value=-1).map(str)
    | st.integers(min_value=INT_MAX + 1).map(str)
    | st.floats(allow_nan=False, allow_infinity=False).filter(lambda x: not float(x).is_integer()).map(repr)
)
JUNK = st.text(string.ascii_letters + string.digits + "-_./ ", min_size=1, max_size=12)
BAD_JSON = st.sampled_from(["{", "[1, 2]", "3", '"text"', "null", '{"a": }', "{'a': 1}", "nan"])


def _bad_str(field: str, tmp: Path, runs: dict[str, Path]) -> st.SearchStrategy[str]:
    """Values a free-text field must refuse (each str field of every command is listed here)."""
    a_file = str(tmp / "a-file.txt")
    used_dir = str(runs["rl"])
    missing = str(tmp / "missing" / "folder")
    by_name: dict[str, st.SearchStrategy[str]] = {
        "algo": st.sampled_from(["a2c", "DQN", "dqn ", ""]) | JUNK.map("no-such-{}".format),
        "agent": st.sampled_from(["nope", "rl:", f"rl:{missing}", "modular,,idm", "idm,nope"]) | JUNK.map("x{}".format),
        "checkpoint": st.sampled_from(["nope", "../config", "last.json", ""]) | JUNK.map("no-{}".format),
        "data_dir": st.sampled_from([missing, a_file]),
        "data_file": st.sampled_from([missing + ".txt", str(tmp), a_file + "/x.txt"]),
        "dataset": JUNK.map("no-such-{}".format),
        "gan_diffaugment": st.sampled_from(["colour", "color,nope", "translation,nope"]) | JUNK.map("x{}".format),
        "diffaugment": st.sampled_from(["colour", "color,nope", "translation,nope"]) | JUNK.map("x{}".format),
        "env": JUNK.map("NoSuchEnv-{}".format),
        "image": st.sampled_from([missing + ".png", a_file, str(tmp), str(tmp / "junk.npy")]),
        "mask_file": st.sampled_from([missing + ".png", a_file, str(tmp), str(tmp / "junk.npy")]),
        "env_config": BAD_JSON,
        "env_kwargs": BAD_JSON | st.just('{"no_such_kwarg_xyz": 1}'),
        "env_wrapper": JUNK.map("no-such-{}".format),
        "name": JUNK.map("no-such-{}".format),
        "network": JUNK.map("no-such-{}".format),
        "prompt": st.sampled_from(["\u2603", "Zo\u00eb", "\x07bell", "\u00a7 \u00b6"]),
        "out": st.sampled_from([str(tmp / "grid.xyz"), str(tmp / "missing" / "grid.png"), a_file + "/x.png",
                                str(tmp)]),
        "video": st.sampled_from([str(tmp / "v.xyz"), str(tmp / "missing" / "v.gif"), a_file + "/v.gif"]),
        "input_video": st.sampled_from([str(tmp / "missing.gif"), str(tmp), a_file + "/v.gif"]),
        "run_dir": st.sampled_from([a_file, used_dir, a_file + "/sub", "bad\x00name"]),
        "stages": JUNK.map("no-such-{}".format),
        "pretrained": st.sampled_from([missing, a_file, used_dir]),
        "perception_run": st.sampled_from([missing, a_file, used_dir]),
        "methods": st.sampled_from(["", "cem,cem", "cem,nope", "random,", "rl,rl", "rl,x"]) | JUNK.map("x{}".format),
        "scenario": st.sampled_from([missing + ".json", a_file, str(tmp)]),
    }
    if field not in by_name:
        raise AssertionError(f"str field {field!r} has no bad values in tests/test_fuzz.py; add some")
    return by_name[field]


def _bad_values(cls: type, name: str, tmp: Path, runs: dict[str, Path]) -> st.SearchStrategy[tuple[str, Any]]:
    """("flag" | "file", value) pairs that field `name` of `cls` must refuse."""
    tp, _ = _unwrap_optional(_hints(cls)[name])
    origin = typing.get_origin(tp)
    if origin is Literal:
        choices = {str(c) for c in typing.get_args(tp)}
        return st.tuples(st.just("flag"), JUNK.filter(lambda v: v not in choices))
    if origin is tuple:
        elem = typing.get_args(tp)[0]
        bad = BAD_INTS if elem is int else BAD_FLOATS if elem is float else JUNK.map("no-such-{}".format)
        return st.tuples(st.just("flag"), bad.filter(lambda v: v.strip() != "" and "," not in v))
    if tp is bool:
        return st.tuples(st.just("file"), st.sampled_from(["maybe", 2, 0.5, [True], {"a": 1}]))
    if tp is int:
        return st.tuples(st.just("flag"), BAD_INTS) | st.tuples(st.just("file"), st.sampled_from([[1], {"a": 1}, 1.5]))
    if tp is float:
        return st.tuples(st.just("flag"), BAD_FLOATS) | st.tuples(st.just("file"), st.sampled_from([[1.0], {}, "x"]))
    if tp is str:
        if name == "run_dir" and dataclasses.fields(cls) and any(
            f.name == name and f.metadata.get("positional") for f in dataclasses.fields(cls)
        ):
            return st.tuples(st.just("flag"), st.sampled_from([str(tmp / "missing"), str(tmp / "a-file.txt")]))
        return st.tuples(st.just("flag"), _bad_str(name, tmp, runs))
    raise AssertionError(f"unhandled field type {tp} of {cls.__name__}.{name}")


# -- fixture runs ------------------------------------------------------------------------------------------
RL_RUN = ["rl", "train", "--algo", "dqn", "--total-steps", "300", "--learning-starts", "100", "--buffer-size", "500",
          "--log-every", "100", "--checkpoint-every", "100", "--eval-every", "200", "--eval-every-episodes", "1",
          "--eval-episodes", "1", "--train-freq", "50", "--gradient-steps", "4"]
SSL_RUN = ["ssl", "train", "--method", "ae", "--dataset", "digits", "--max-steps", "4", "--batch-size", "32",
           "--log-every", "2", "--checkpoint-every", "2", "--no-evaluate"]
TAB_RUN = ["rl", "train", "--algo", "q-learning", "--env", "FrozenLake-v1", "--episodes", "40"]
VIDEO_RUN = ["gan", "video-train", "--max-steps", "2", "--batch-size", "2", "--eval-every", "2", "--eval-sequences",
             "2", "--fd-sequences", "0", "--checkpoint-every", "1", "--spatial-width", "4", "--translator-width", "8",
             "--translator-blocks", "1"]
INPAINT_RUN = ["gan", "inpaint", "train", "--dataset", "digits", "--mask-size", "4", "--width", "4", "--batch-size",
               "16", "--max-steps", "2", "--eval-every", "2", "--eval-samples", "16", "--test-size", "32",
               "--log-every", "1", "--checkpoint-every", "1"]
TEXT_RUN = ["text", "train", "--context", "16", "--layers", "1", "--heads", "2", "--width", "16", "--batch-size", "4",
            "--max-steps", "2", "--log-every", "1"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("fuzz-runs")
    out = {"rl": root / "rl", "ssl": root / "ssl", "tabular": root / "tab", "text": root / "text",
           "video": root / "video", "inpaint": root / "inpaint"}
    prose = root / "prose.txt"
    prose.write_text("The quick brown fox jumps over the lazy dog; not a folder.\n" * 40, encoding="utf-8")
    text_run = [*TEXT_RUN, "--data-file", str(prose)]
    for argv, key in ((RL_RUN, "rl"), (SSL_RUN, "ssl"), (TAB_RUN, "tabular"), (text_run, "text"),
                      (VIDEO_RUN, "video"), (INPAINT_RUN, "inpaint")):
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()) as err:
            code = main([*argv, "--run-dir", str(out[key])])
        assert code == 0, err.getvalue()[-2000:]
    return out


def _snapshot(*roots: Path) -> dict[str, str]:
    """Every file under `roots` (recursively) with a digest of its bytes."""
    out = {}
    for root in roots:
        for p in sorted(root.rglob("*")):
            out[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
    return out


def _call(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with (contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err),
          mock.patch.object(RunDir, "start", side_effect=Accepted("first write reached"))):
        try:
            code = main(argv)
        except SystemExit as e:  # argparse's own errors (choices, missing values) exit from inside main
            code = e.code if isinstance(e.code, int) else 1
    return code, err.getvalue()


def _assert_one_line_error(code: int, err: str, what: str) -> None:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2, f"{what}: exit {code}, stderr: {err[-1500:]}"
    assert len(lines) == 1 and lines[0].startswith("error: "), f"{what}: stderr is not one error line: {err[-1500:]}"
    assert "Traceback" not in err


def _prefix_for(prefix: list[str], cls: type, runs: dict[str, Path], skip: str) -> list[str]:
    """The command's argv with a usable value for each positional field other than `skip`."""
    argv = list(prefix)
    for f in dataclasses.fields(cls):
        if f.metadata.get("positional") and f.name != skip:
            pillar = prefix[0]
            key = ("inpaint" if prefix[:2] == ["gan", "inpaint"] else "video" if prefix[1:2] in (["video-eval"],
                   ["video-sample"]) else pillar if pillar in ("ssl", "text") else "rl")
            argv.append("digits" if pillar == "data" else str(runs[key]))
    return argv


@pytest.mark.parametrize(("cid", "prefix", "cls", "field"), CASES,
                         ids=[f"{c[0]}:{c[3]}" for c in CASES])
def test_bad_config_value_is_one_line_and_changes_nothing(cid: str, prefix: list[str], cls: type, field: str,
                                                          runs: dict[str, Path], tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (tmp_path / "a-file.txt").write_text("not a folder\n")
    (tmp_path / "junk.npy").write_bytes(b"\x93NUMPY garbage")
    monkeypatch.chdir(work)
    before = _snapshot(tmp_path, *runs.values())
    is_positional = any(f.name == field and f.metadata.get("positional") for f in dataclasses.fields(cls))

    @FUZZ
    @given(_bad_values(cls, field, tmp_path, runs))
    def check(case: tuple[str, Any]) -> None:
        how, value = case
        argv = _prefix_for(prefix, cls, runs, field if is_positional else "")
        if is_positional:
            argv.append(str(value))
        elif how == "flag":
            argv.append(f"--{field.replace('_', '-')}={value}")
        else:
            cfg_file = tmp_path / "bad.json"
            cfg_file.write_text(json.dumps({field: value}))
            argv += ["--config", str(cfg_file)]
        code, err = _call(argv)
        if how == "file":
            cfg_file.unlink()
        _assert_one_line_error(code, err, f"pilotlab {' '.join(argv)!r}")
        assert _snapshot(tmp_path, *runs.values()) == before, f"pilotlab {' '.join(argv)!r} changed files"

    check()


# -- presets -----------------------------------------------------------------------------------------------
WITHOUT_PRESET = st.tuples(
    st.sampled_from(["dqn", "ppo", "ddpg", "td3"]),
    st.sampled_from(["CartPole-v1", "Pendulum-v1", "FrozenLake-v1", "MountainCarContinuous-v0", "Acrobot-v1",
                     "LunarLander-v3", "Taxi-v3"]),
).filter(lambda pair: presets.find(*pair) is None)


def test_zoo_preset_where_none_exists_is_one_line(runs: dict[str, Path], tmp_path: Path) -> None:
    """--preset zoo (on the line or in a --config file) for an (algo, env) without a zoo entry is refused
    before any write; so is any other preset name."""
    before = _snapshot(tmp_path, *runs.values())

    @FUZZ
    @given(WITHOUT_PRESET, st.sampled_from(["zoo", "Zoo", "tuned", "", "none,zoo"]), st.booleans())
    def check(pair: tuple[str, str], name: str, via_file: bool) -> None:
        algo, env = pair
        argv = ["rl", "train", "--algo", algo, "--env", env, "--run-dir", str(tmp_path / "run")]
        if via_file:
            cfg_file = tmp_path / "preset.json"
            cfg_file.write_text(json.dumps({"preset": name}))
            argv += ["--config", str(cfg_file)]
        else:
            argv.append(f"--preset={name}")
        code, err = _call(argv)
        if via_file:
            cfg_file.unlink()
        _assert_one_line_error(code, err, f"pilotlab {' '.join(argv)!r}")
        assert not (tmp_path / "run").exists()
        assert _snapshot(tmp_path, *runs.values()) == before

    check()


# -- damaged run-directory files ---------------------------------------------------------------------------
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)


@st.composite
def _damage(draw: st.DrawFn, original: bytes) -> bytes:
    """A damaged version of a file's bytes (never the original)."""
    kind = draw(st.sampled_from(["cut", "garble", "json", "drop-key", "retype-key"]))
    doc: Any = None
    with contextlib.suppress(ValueError):
        doc = json.loads(original)
    if kind == "cut" and len(original) > 1:
        return original[: draw(st.integers(0, len(original) - 1))]
    if kind in ("drop-key", "retype-key") and isinstance(doc, dict) and doc:
        key = draw(st.sampled_from(sorted(doc)))
        if kind == "drop-key":
            doc.pop(key)
        else:
            doc[key] = draw(JSON_VALUES.filter(lambda v, old=doc[key]: v != old))
        return json.dumps(doc).encode()
    if kind == "json":
        return json.dumps(draw(JSON_VALUES)).encode()
    garbled = bytearray(original or b"x")
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(garbled) - 1))
        garbled[i] = draw(st.integers(0, 255).filter(lambda b, old=garbled[i]: b != old))
    return bytes(garbled)


READERS = {
    "resume": lambda run: ["rl", "train", "--resume", "--run-dir", str(run)],
    "eval": lambda run: ["rl", "eval", str(run), "--episodes", "1"],
    "report": lambda run: ["report", str(run)],
}
FILES = ["config.json", "metrics.jsonl", "summary.json", "checkpoints/last.json", "checkpoints/last.safetensors",
         "checkpoints/best.json"]


def _damaged_file_check(source: Path, name: str, reader: str, argv: list[str], tmp_path: Path,
                        examples: int) -> None:
    """Damage `name` of a copy of the run `source` in `examples` ways; `pilotlab ARGV` must then either work or
    print one `error:` line, exit 2 and leave the run as it was."""
    original = (source / name).read_bytes()

    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    @given(_damage(original))
    def check(damaged: bytes) -> None:
        run = tmp_path / "run"
        shutil.rmtree(run, ignore_errors=True)
        shutil.copytree(source, run)
        (run / name).write_bytes(damaged)
        before = _snapshot(run)
        err = io.StringIO()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            code = main([a.replace("RUN", str(run)) for a in argv])
        text = err.getvalue()
        assert "Traceback" not in text and "internal error" not in text, text[-1500:]
        if code != 0:
            lines = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("warning: ")]
            assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), text[-1500:]
            assert _snapshot(run) == before, f"{reader} changed the run after refusing damaged {name}"

    check()


@pytest.mark.parametrize("reader", sorted(READERS))
@pytest.mark.parametrize("name", FILES)
def test_damaged_run_file_is_harmless_or_one_line_with_nothing_changed(name: str, reader: str,
                                                                       runs: dict[str, Path],
                                                                       tmp_path: Path) -> None:
    _damaged_file_check(runs["rl"], name, reader, READERS[reader](Path("RUN")), tmp_path, examples=5)


TEXT_READERS = {
    "resume": lambda run: ["text", "train", "--resume", "--run-dir", str(run), "--max-steps", "3"],
    "eval": lambda run: ["text", "eval", str(run)],
    "sample": lambda run: ["text", "sample", str(run), "--length", "5"],
    "report": lambda run: ["report", str(run)],
}
TEXT_FILES = ["config.json", "vocab.json", "metrics.jsonl", "summary.json", "checkpoints/last.json",
              "checkpoints/last.safetensors", "samples.json"]


@pytest.mark.parametrize("reader", sorted(TEXT_READERS))
@pytest.mark.parametrize("name", TEXT_FILES)
def test_damaged_text_run_file_is_harmless_or_one_line(name: str, reader: str, runs: dict[str, Path],
                                                       tmp_path: Path) -> None:
    _damaged_file_check(runs["text"], name, reader, TEXT_READERS[reader](Path("RUN")), tmp_path, examples=3)


VIDEO_READERS = {
    "resume": lambda run: ["gan", "video-train", "--resume", "--run-dir", str(run), "--max-steps", "3"],
    "eval": lambda run: ["gan", "video-eval", str(run), "--sequences", "2"],
}
VIDEO_FILES = ["config.json", "checkpoints/last.json", "checkpoints/last.safetensors"]


@pytest.mark.parametrize("reader", sorted(VIDEO_READERS))
@pytest.mark.parametrize("name", VIDEO_FILES)
def test_damaged_video_run_file_is_harmless_or_one_line(name: str, reader: str, runs: dict[str, Path],
                                                        tmp_path: Path) -> None:
    _damaged_file_check(runs["video"], name, reader, VIDEO_READERS[reader](Path("RUN")), tmp_path, examples=2)


INPAINT_READERS = {
    "resume": lambda run: ["gan", "inpaint", "train", "--resume", "--run-dir", str(run), "--max-steps", "3"],
    "eval": lambda run: ["gan", "inpaint", "eval", str(run), "--test-size", "16"],
}
INPAINT_FILES = ["config.json", "summary.json", "checkpoints/last.json", "checkpoints/last.safetensors"]


@pytest.mark.parametrize("reader", sorted(INPAINT_READERS))
@pytest.mark.parametrize("name", INPAINT_FILES)
def test_damaged_inpaint_run_file_is_harmless_or_one_line(name: str, reader: str, runs: dict[str, Path],
                                                          tmp_path: Path) -> None:
    _damaged_file_check(runs["inpaint"], name, reader, INPAINT_READERS[reader](Path("RUN")), tmp_path, examples=2)


def test_torn_metrics_line_is_dropped_on_resume(runs: dict[str, Path], tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    shutil.copytree(runs["rl"], run)
    with open(run / "metrics.jsonl", "a", encoding="utf-8") as f:
        f.write('{"step": 7, "train/lo')  # what a kill -9 mid-write leaves
    assert main(["rl", "train", "--resume", "--run-dir", str(run)]) == 0
    err = capsys.readouterr().err
    assert "dropped the torn last line" in err
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert all(isinstance(r["step"], int) for r in rows)


def test_every_str_field_has_bad_values(tmp_path: Path) -> None:
    """A new free-text field must get its bad values here (the fuzz cases above fail loudly otherwise)."""
    fake = {"rl": tmp_path, "ssl": tmp_path, "tabular": tmp_path}
    for _, _, cls in COMMANDS:
        for f in dataclasses.fields(cls):
            tp, _ = _unwrap_optional(_hints(cls)[f.name])
            if tp is str and not f.metadata.get("positional"):
                _bad_str(f.name, tmp_path, fake)


def test_fields_are_finite_by_construction() -> None:
    """The generic rules hold for direct construction too, not only through the command line."""
    from pilotlab.core.errors import PilotlabError
    from pilotlab.rl.dqn import DQNConfig

    for bad in ({"lr": math.nan}, {"gamma": math.inf}, {"seed": -1}, {"total_steps": 2**40}):
        with pytest.raises(PilotlabError):
            DQNConfig(**bad)
