"""Open a report in headless Chromium: a screenshot, and which images loaded (naturalWidth > 0)."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]

_PROBE = """<script>
window.addEventListener('load', () => {
  const imgs = [...document.images];
  const out = {images: imgs.length,
               broken: imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.alt),
               sections: [...document.querySelectorAll('h2')].map(h => h.textContent)};
  const pre = document.createElement('pre'); pre.id = 'pilotlab-check';
  pre.textContent = JSON.stringify(out); document.body.appendChild(pre);
});
</script>"""


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def inspect_report(report: Path, workdir: Path) -> tuple[dict[str, Any], Path]:
    """Return ({images, broken, sections}, screenshot path) for `report` rendered by Chromium."""
    exe = chromium()
    assert exe is not None
    probe = workdir / "probe.html"
    probe.write_text(report.read_text(encoding="utf-8").replace("</body>", _PROBE + "</body>"), encoding="utf-8")
    common = [exe, *FLAGS, f"--user-data-dir={workdir / 'profile'}"]
    dom = subprocess.run(
        [*common, "--virtual-time-budget=15000", "--dump-dom", probe.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    m = re.search(r'<pre id="pilotlab-check">(.*?)</pre>', dom.stdout, re.S)
    assert m, f"probe did not run: {dom.stderr[-1500:]}"
    shot = workdir / "screenshot.png"
    subprocess.run(
        [*common, "--window-size=1280,3000", f"--screenshot={shot}", report.as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
    )
    return json.loads(html.unescape(m.group(1))), shot
