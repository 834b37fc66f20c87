"""`pilotlab tour --quick` end to end, and its report opened in headless Chromium."""

from __future__ import annotations

import importlib
import json
import re
import sys
from pathlib import Path

import pytest

from pilotlab.cli import main

sys.path.insert(0, str(Path(__file__).parent / "report"))
chromium_helper = importlib.import_module("chromium")

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("tour")]  # one tour, on one worker


@pytest.fixture(scope="module")
def tour(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("tour") / "t"
    assert main(["tour", "--quick", "--run-dir", str(d)]) == 0
    return d


def test_every_stage_ran(tour) -> None:
    doc = json.loads((tour / "tour.json").read_text())
    assert [s["key"] for s in doc["stages"]] == ["ssl", "gan", "rl", "drive"]
    failed = {s["key"]: s["error"] for s in doc["stages"] if s["status"] != "ok"}
    assert failed == {}
    for s in doc["stages"]:
        assert s["headlines"], s["key"]
        for run in s["runs"]:
            assert (tour / run["dir"] / "summary.json").is_file()
        assert s["command"] and all(c.startswith("pilotlab ") for c in s["command"])
        assert s["figures"], s["key"]  # every stage shows a key figure
    for s in doc["stages"][:2]:  # the image stages state their test set
        assert s["test_sets"], s["key"]
    missing = [h["label"] for s in doc["stages"] for h in s["headlines"] if h["raw"] is None]
    assert missing == []  # every headline's key (pilotlab.core.summary) is one its trainer wrote
    verdicts = [h["met"] for s in doc["stages"] for h in s["headlines"]]
    assert None in verdicts  # no target at the quick budget: shown without met / not met


def test_report_is_self_contained(tour) -> None:
    page = (tour / "report.html").read_text()
    assert not re.search(r'(src|href)="(https?:)?//', page)
    for section in ("Summary", "Key figures", "Self-supervised", "Generative adversarial", "Reinforcement", "driving"):
        assert section in page
    assert page.index("Key figures") < page.index('id="ssl"') < page.index("<details")  # headlines first
    assert (tour / "report.md").is_file()
    assert ".gif" in page  # CartPole and driving episodes


@pytest.mark.skipif(chromium_helper.chromium() is None, reason="Debian's chromium is not installed")
def test_report_in_chromium(tour, tmp_path) -> None:
    result, shot = chromium_helper.inspect_report(tour / "report.html", tmp_path)
    assert result["broken"] == [] and result["images"] >= 8
    assert result["sections"][:2] == ["Summary", "Key figures"]
    assert len(result["sections"]) == 6  # and one per stage
    assert shot.stat().st_size > 20_000
