"""Shared by the benchmark scripts: write one marked section of docs/benchmarks.md."""

from __future__ import annotations

import fcntl
import platform
import re
from pathlib import Path

import torch

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
HEADER = "# Benchmarks\n\nEvery number below was produced by the command shown with it, on the machine named.\n"


def machine() -> str:
    """One line naming the machine the numbers come from."""
    import os

    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
        f"{torch.get_num_threads()} thread(s), Python {platform.python_version()}"
    )


def write_section(key: str, markdown: str) -> Path:
    """Replace (or append) the section between ``<!-- key:start -->`` and ``<!-- key:end -->``."""
    DOC.parent.mkdir(parents=True, exist_ok=True)
    lock = DOC.with_suffix(".lock")
    with open(lock, "w") as lf:
        fcntl.flock(lf, fcntl.LOCK_EX)
        text = DOC.read_text(encoding="utf-8") if DOC.is_file() else HEADER
        block = f"<!-- {key}:start -->\n{markdown.rstrip()}\n<!-- {key}:end -->"
        pattern = re.compile(rf"<!-- {re.escape(key)}:start -->.*?<!-- {re.escape(key)}:end -->", re.S)
        text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
        DOC.write_text(text, encoding="utf-8")
    lock.unlink(missing_ok=True)
    return DOC


def parse_seeds(text: str) -> list[int]:
    """Env seeds from "0-19" or "3,7,10-12" (ranges inclusive)."""
    out: list[int] = []
    for part in text.split(","):
        a, _, b = part.partition("-")
        out.extend(range(int(a), int(b or a) + 1))
    return out
