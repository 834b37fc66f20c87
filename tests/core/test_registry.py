"""The registry of variants: every entry loads and keeps its contract; lookups fail as bad input; the import
graph has no circles and generic RL never depends on the driving stack."""

from __future__ import annotations

import ast
import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from pilotlab.core import registry
from pilotlab.core.errors import PilotlabError
from pilotlab.drive import AGENT
from pilotlab.gan import MODEL
from pilotlab.rl import ALGO, ENV_WRAPPER
from pilotlab.ssl import METHOD
from pilotlab.text import METHOD as TEXT_METHOD

SRC = Path(__file__).resolve().parents[2] / "src" / "pilotlab"

CONTRACT = {ALGO: ("train", "load_policy"), METHOD: ("train", "encoder_from_state", "random_encoder"),
            MODEL: ("build",), TEXT_METHOD: ("train", "objective")}
VARIANTS = [(kind, name) for kind in CONTRACT for name in registry.names(kind)]


@pytest.mark.parametrize(("kind", "name"), VARIANTS, ids=[f"{k}:{n}" for k, n in VARIANTS])
def test_every_variant_loads_with_its_contract(kind: str, name: str) -> None:
    entry = registry.get(kind, name)
    module = entry.implementation()
    for attr in CONTRACT[kind]:
        assert callable(getattr(module, attr)), f"{module.__name__} lacks {attr}"
    cls = entry.config_class()
    assert dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen  # type: ignore[attr-defined]
    field = registry.KINDS[kind].field
    assert field in {f.name for f in dataclasses.fields(cls)}
    assert entry.help and "\n" not in entry.help


def test_kinds_and_lazy_config_mapping() -> None:
    assert {"rl.algo", "rl.env-wrapper", "ssl.method", "gan.model", "drive.agent"} <= set(registry.KINDS)
    configs = registry.Configs(ALGO)
    assert list(configs) == registry.names(ALGO) and len(configs) == 8
    assert configs["td3"] is configs["ddpg"]
    with pytest.raises(KeyError):
        configs["nope"]


def test_env_wrappers_and_drivers_are_registered_by_the_driving_stack() -> None:
    wrappers = registry.entries(ENV_WRAPPER)
    assert wrappers["none"].load() is None
    for name in ("fast-highway", "fast-highway-shield-teacher", "fast-highway-shield-teacher-half"):
        assert wrappers[name].module.startswith("pilotlab.drive.")
        import gymnasium as gym

        assert issubclass(wrappers[name].load(), gym.Wrapper)
    agents = registry.entries(AGENT)
    assert set(agents) == {"modular", "oracle", "idm", "rl:RUN_DIR"}
    for entry in agents.values():
        assert isinstance(entry.load(), type)


def test_unknown_name_is_one_line_listing_the_choices() -> None:
    with pytest.raises(PilotlabError, match=r"unknown algorithm 'dpq' \(--algo\); choose one of q-learning, .*td3"):
        registry.get(ALGO, "dpq")
    with pytest.raises(PilotlabError, match="unknown env wrapper 'x'.*fast-highway"):
        registry.get(ENV_WRAPPER, "x")


def test_register_refuses_conflicts() -> None:
    registry.register(ALGO, "dqn", "pilotlab.rl.dqn", registry.get(ALGO, "dqn").help, config="DQNConfig")  # same: ok
    with pytest.raises(ValueError, match="already registered"):
        registry.register(ALGO, "dqn", "pilotlab.rl.ppo", "another", config="PPOConfig")
    with pytest.raises(ValueError, match="unknown registry kind"):
        registry.register("rl.nope", "x", "m", "h")
    with pytest.raises(ValueError, match="defined differently"):
        registry.define_kind(registry.Kind(ALGO, "method", "x", "y"))


def test_a_missing_implementation_is_bad_input(monkeypatch: pytest.MonkeyPatch) -> None:
    entry = registry.Entry(ALGO, "ghost", "pilotlab.rl.no_such_module", "h", config="C")
    monkeypatch.setitem(registry._ENTRIES[ALGO], "ghost", entry)
    with pytest.raises(PilotlabError, match="needs pilotlab.rl.no_such_module, which cannot be imported"):
        registry.config_class(ALGO, "ghost")


def _import_graph() -> dict[str, set[str]]:
    """module -> pilotlab modules it imports (anywhere in the file: lazy imports count)."""
    mods = {}
    for path in SRC.rglob("*.py"):
        name = ".".join(path.relative_to(SRC.parent).with_suffix("").parts)
        mods[name.removesuffix(".__init__")] = path
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for mod, path in mods.items():
        package = mod if path.name == "__init__.py" else mod.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(parts + ([base] if base else []))
                subs = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in mods]
                targets = subs + ([base] if len(subs) < len(node.names) else [])
            else:
                continue
            for target in targets:
                while target and target not in mods:
                    target = target.rpartition(".")[0]
                if target and target != mod:
                    graph[mod].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return out


ABOVE_CORE = [["ssl"], ["gan"], ["rl"], ["drive"], ["text"], ["tour"], ["report"]]


def test_import_graph_has_no_circles_and_layers_point_down() -> None:
    graph = _import_graph()
    assert _cycles(graph) == []
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]  # the check itself can fail
    up = [(m, t) for m, ts in graph.items() for t in ts
          if (m.startswith("pilotlab.rl") and t.startswith("pilotlab.drive"))
          or (m.startswith("pilotlab.core") and t.split(".")[1:2] in ABOVE_CORE)]
    assert up == []


def test_generic_rl_imports_nothing_of_the_driving_stack_beyond_its_registrations() -> None:
    code = ("import sys; from pilotlab.core import registry; from pilotlab.rl import ENV_WRAPPER; "
            "registry.names(ENV_WRAPPER); import pilotlab.rl.dqn; "
            "print(sorted(m for m in sys.modules if m.startswith(('pilotlab.drive', 'highway_env'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['pilotlab.drive']"
