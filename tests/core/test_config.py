"""Configs: field docstrings become help, file < flag precedence, bad values rejected."""

from __future__ import annotations

import dataclasses
from typing import Literal

import pytest

from pilotlab.core.config import RunConfig, add_arguments, build_config, field_docs, given_values, to_dict
from pilotlab.core.errors import PilotlabError


@dataclasses.dataclass(frozen=True, kw_only=True)
class Toy(RunConfig):
    lr: float = 1e-3
    """Learning rate."""
    epochs: int = 3
    """Passes over the data."""
    kind: Literal["a", "b"] = "a"
    """Which kind."""
    sizes: tuple[int, ...] = (4, 8)
    """Hidden sizes."""
    note: str | None = None
    """Optional note."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.lr <= 0:
            raise PilotlabError(f"lr must be > 0, got {self.lr}")


def test_every_field_has_a_docstring() -> None:
    docs = field_docs(Toy)
    assert set(docs) == {f.name for f in dataclasses.fields(Toy)}
    assert docs["lr"] == "Learning rate."
    assert "Seeds Python" in docs["seed"]  # inherited from RunConfig


def test_precedence_flag_over_file_over_default(tmp_path) -> None:
    f = tmp_path / "c.toml"
    f.write_text('lr = 0.5\nepochs = 7\nkind = "b"\nsizes = [1, 2, 3]\n')
    cfg = build_config(Toy, {"epochs": "9"}, f)
    assert (cfg.lr, cfg.epochs, cfg.kind, cfg.sizes) == (0.5, 9, "b", (1, 2, 3))
    assert to_dict(cfg)["sizes"] == [1, 2, 3]


def test_only_given_flags_reach_the_namespace(tmp_path) -> None:
    import argparse

    parser = argparse.ArgumentParser()
    add_arguments(parser, Toy)
    assert vars(parser.parse_args([])) == {}
    # a flag given its default value, a --no- boolean and a list flag are all explicit
    ns = parser.parse_args(["--epochs", "3", "--no-resume", "--sizes", "1", "2"])
    assert vars(ns) == {"epochs": "3", "resume": False, "sizes": ["1", "2"]}
    f = tmp_path / "c.toml"
    f.write_text('lr = 0.5\nepochs = 7\n"run-dir" = "x"\n')
    assert given_values(vars(ns), f) == {"lr": 0.5, "epochs": "3", "run_dir": "x", "resume": False,
                                         "sizes": ["1", "2"]}
    assert given_values(None) == {}


def test_preset_sits_under_file_and_flags(tmp_path) -> None:
    f = tmp_path / "c.toml"
    f.write_text("lr = 0.5\n")
    preset = {"lr": 0.1, "epochs": 5, "kind": "b"}
    cfg = build_config(Toy, {"kind": "a"}, f, preset=preset)
    assert (cfg.lr, cfg.epochs, cfg.kind, cfg.sizes) == (0.5, 5, "a", (4, 8))
    with pytest.raises(PilotlabError, match="unknown config key 'nope' in the zoo preset"):
        build_config(Toy, {}, preset={"nope": 1}, preset_source="the zoo preset")
    with pytest.raises(PilotlabError, match="epochs must be an integer"):
        build_config(Toy, {}, preset={"epochs": "x"})


def test_yaml_file(tmp_path) -> None:
    f = tmp_path / "c.yaml"
    f.write_text("lr: 0.25\nnote: hello\n")
    cfg = build_config(Toy, {}, f)
    assert cfg.lr == 0.25 and cfg.note == "hello"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"epochs": "two"}, "epochs must be an integer"),
        ({"epochs": "2.5"}, "epochs must be an integer"),
        ({"lr": "fast"}, "lr must be a number"),
        ({"lr": "-1"}, "lr must be > 0"),
        ({"kind": "c"}, "kind must be one of a, b"),
        ({"bogus": 1}, "unknown config key 'bogus'"),
        ({"threads": "0"}, "threads must be >= 1"),
        ({"resume": True}, "--resume needs --run-dir"),
    ],
)
def test_bad_values_are_rejected(values, message) -> None:
    with pytest.raises(PilotlabError, match=message):
        build_config(Toy, values)


def test_unknown_key_in_file(tmp_path) -> None:
    f = tmp_path / "c.toml"
    f.write_text("learning_rate = 1\n")
    with pytest.raises(PilotlabError, match="unknown config key 'learning_rate' in config file"):
        build_config(Toy, {}, f)


def test_unparsable_and_missing_files(tmp_path) -> None:
    bad = tmp_path / "c.toml"
    bad.write_text("lr = = 1\n")
    with pytest.raises(PilotlabError, match="cannot parse config file"):
        build_config(Toy, {}, bad)
    with pytest.raises(PilotlabError, match="config file not found"):
        build_config(Toy, {}, tmp_path / "nope.toml")
    wrong = tmp_path / "c.ini"
    wrong.write_text("x")
    with pytest.raises(PilotlabError, match="must end in"):
        build_config(Toy, {}, wrong)


def test_configs_are_frozen() -> None:
    cfg = Toy()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.lr = 1.0  # type: ignore[misc]
