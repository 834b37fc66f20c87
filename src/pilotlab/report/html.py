"""Self-contained reports: one HTML file (images embedded as data URIs, no external requests) + Markdown.

`build_run_report(run_dir)` documents any run directory: its config, summary.json, curves drawn from
metrics.jsonl and every figure. `build_tour_report(tour_dir)` assembles the tour's stages (see
`pilotlab.tour`): the headline numbers beside the baselines measured in the same tour and the key figures
first, then each stage's comparison tables, with commands, run directories and metric dumps folded.
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

from pilotlab.core import runfiles
from pilotlab.core.checkpoint import atomic_write_text
from pilotlab.core.errors import PilotlabError
from pilotlab.report.figures import save_line_plot

CSS = """
body{font:15px/1.5 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#1d2330;background:#fff}
h1{font-size:1.8em;margin-bottom:.2em}h2{border-bottom:2px solid #e3e7ee;padding-bottom:.2em;margin-top:2em}
h3{margin-top:1.4em}table{border-collapse:collapse;margin:.8em 0;font-size:.92em}
th,td{border:1px solid #d8dde6;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#f3f5f9}td.num{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#17803d;font-weight:600}.bad{color:#b42318;font-weight:600}.muted{color:#667085}
figure{display:inline-block;margin:.5em 1em .5em 0;vertical-align:top;max-width:100%}
figure img{max-width:100%;border:1px solid #e3e7ee;image-rendering:pixelated}
figcaption{font-size:.85em;color:#667085}pre{background:#f6f8fa;padding:.8em;overflow:auto;font-size:.8em}
.error{background:#fef3f2;border:1px solid #fecdca;padding:.6em 1em;border-radius:6px}
details summary{cursor:pointer;color:#344054}details{margin:.6em 0}
.key{display:flex;flex-wrap:wrap;gap:.8em;align-items:flex-start}.key figure{flex:0 1 330px;margin:0}
.key figure img{width:100%;height:auto}td.cmd{font:12px/1.4 ui-monospace,Menlo,Consolas,monospace;color:#344054}
"""

_MIME = {".png": "image/png", ".gif": "image/gif", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".svg": "image/svg+xml"}


def fmt(v: Any) -> str:
    """Numbers shown to 4 significant digits; other values as text."""
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, (int, float)):
        if isinstance(v, float) and not math.isfinite(v):
            return str(v)
        if float(v).is_integer() and abs(v) < 1e9:
            return f"{int(v)}"
        return f"{v:.4g}"
    return str(v)


def md_text(v: Any) -> str:
    """Text for the Markdown report: HTML special characters escaped (Markdown passes raw HTML through),
    table bars and newlines neutralised, so a run's fields cannot inject markup."""
    text = html.escape(fmt(v), quote=False)
    return text.replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def data_uri(path: Path) -> str:
    mime = _MIME.get(path.suffix.lower(), "application/octet-stream")
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def _table(rows: list[list[Any]], header: list[str]) -> tuple[str, str]:
    """(html, markdown) of a table."""
    h = "<table><tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in header) + "</tr>"
    for r in rows:
        cells = []
        for c in r:
            if isinstance(c, tuple):  # (text, css class)
                cells.append(f'<td class="{c[1]}">{html.escape(c[0])}</td>')
            elif isinstance(c, (int, float)) and not isinstance(c, bool):
                cells.append(f'<td class="num">{fmt(c)}</td>')
            else:
                cells.append(f"<td>{html.escape(fmt(c))}</td>")
        h += "<tr>" + "".join(cells) + "</tr>"
    h += "</table>"
    md = "| " + " | ".join(md_text(c) for c in header) + " |\n|" + "---|" * len(header) + "\n"
    for r in rows:
        md += "| " + " | ".join(md_text(c[0] if isinstance(c, tuple) else c) for c in r) + " |\n"
    return h, md


INPAINT_HEADER = ["method", "PSNR [dB]", "L1", "FD", "accuracy"]


def inpaint_rows(summary: dict[str, Any]) -> list[list[str]]:
    """The table of a `gan inpaint` run (method, PSNR, L1, FD, accuracy): its network first, then each baseline
    it holds, then the originals (the classifier's accuracy on them, the real-vs-real FD floor)."""
    from pilotlab.core import summary as keys

    def num(v: Any, spec: str) -> str:
        return format(v, spec) if isinstance(v, (int, float)) and not isinstance(v, bool) else "n/a"

    names = {keys.INPAINT_MODEL: "gated conv + adversarial (the run's)", keys.INPAINT_L2: "same network, L2 only",
             keys.INPAINT_NEAREST: "nearest training patch", keys.INPAINT_MEAN: "mean fill"}
    rows = []
    for method, label in names.items():
        if summary.get(keys.inpaint_key(method, keys.INPAINT_PSNR)) is None:
            continue
        rows.append([label, *(num(summary.get(keys.inpaint_key(method, metric)), spec) for metric, spec in
                              ((keys.INPAINT_PSNR, ".2f"), (keys.INPAINT_L1, ".4f"), (keys.INPAINT_FD, ".3f"),
                               (keys.INPAINT_ACC, ".4f")))])
    rows.append(["originals (no hole)", "-", "-", num(summary.get(keys.GAN_FD_FLOOR), ".3f") + " (floor)",
                 num(summary.get(keys.INPAINT_ORIGINAL_ACC), ".4f")])
    return rows


def metric_curves(run_dir: Path) -> list[Path]:
    """Plot every logged scalar of metrics.jsonl, one figure per namespace (train/, eval/, ...)."""
    series: dict[str, dict[str, tuple[list[float], list[float]]]] = defaultdict(dict)
    for row in runfiles.read_jsonl(run_dir / "metrics.jsonl", runfiles.METRICS_ROW):
        for k, v in row.items():
            if k in ("step", "time") or not isinstance(v, (int, float)) or isinstance(v, bool) or "/" not in k:
                continue
            ns = k.split("/", 1)[0]
            xs, ys = series[ns].setdefault(k, ([], []))
            xs.append(row["step"])
            ys.append(v)
    out = []
    for ns, group in sorted(series.items()):
        group = {k: v for k, v in group.items() if len(v[0]) >= 2}
        if not group:
            continue
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in ns)[:64]  # a file name, whatever ns holds
        out.append(save_line_plot(group, run_dir / "figures" / "curves" / f"{safe}.png", title=f"{ns}/ metrics"))
    return out


def figure_html(path: Path, caption: str) -> str:
    """An embedded image; small pixel grids are shown enlarged (crisp, not blurred)."""
    from PIL import Image

    width = ""
    try:
        with Image.open(path) as im:
            w = im.size[0]
        if w < 360:
            width = f' width="{w * max(2, 360 // w)}"'
    except (OSError, ValueError, Image.DecompressionBombError):
        pass
    return (
        f'<figure><img src="{data_uri(path)}"{width} alt="{html.escape(path.stem)}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def _figures(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in _MIME and p.is_file())


def run_section(run_dir: Path, level: int = 2, title: str | None = None, collapse: bool = False,
                skip: frozenset[Path] = frozenset()) -> tuple[str, str]:
    """HTML + Markdown for one run directory: figures first, then summary.json (folded with `collapse`) and the
    config (folded). `skip`: figures shown elsewhere in the same report."""
    cfg_path, summary_path = run_dir / "config.json", run_dir / "summary.json"
    cfg_doc = runfiles.read_json(cfg_path, runfiles.CONFIG_JSON) if cfg_path.is_file() else {}
    summary = runfiles.read_json(summary_path, runfiles.SUMMARY_JSON) if summary_path.is_file() else {}
    samples_path = run_dir / "samples.json"
    samples = runfiles.read_json(samples_path, runfiles.SAMPLES_JSON)["samples"] if samples_path.is_file() else []
    name = title or f"{cfg_doc.get('pillar', '?')} {cfg_doc.get('method', '')}".strip()
    h = f"<h{level}>{html.escape(name)}</h{level}>"
    md = f"{'#' * level} {md_text(name)}\n\n"
    meta = f"run directory <code>{html.escape(str(run_dir))}</code>"
    if cfg_doc:
        v = cfg_doc.get("versions", {})
        about = (
            f" · seed {cfg_doc.get('seed')} · created {cfg_doc.get('created', '?')} · "
            f"pilotlab {v.get('pilotlab', '?')}, torch {v.get('torch', '?')}, Python {v.get('python', '?')}"
        )
        meta += html.escape(about)
    h += f'<p class="muted">{meta}</p>'
    md += f"Run directory `{md_text(run_dir)}`.\n\n"
    curves = metric_curves(run_dir)
    figs = [p for p in _figures(run_dir / "figures") if p not in curves] + curves
    for p in figs:
        if p.resolve() in skip:
            continue
        rel = p.relative_to(run_dir)
        h += figure_html(p, str(rel))
        md += f"![{md_text(p.stem)}]({quote_url(rel.as_posix())})\n\n"
    if cfg_doc.get("method") == "inpaint" and summary:  # `gan inpaint`: the comparison with the baselines first
        th, tm = _table(inpaint_rows(summary), INPAINT_HEADER)
        caption = f"{summary.get('data/mask', '?')} masks on {summary.get('data/test_set', '?')}"
        h += f"<p>{html.escape(caption)}</p>" + th
        md += f"{md_text(caption)}\n\n{tm}\n"
    if samples:
        sh, smd = _samples(samples)
        h, md = h + sh, md + smd
    if summary:
        th, tm = _table([[k, v] for k, v in summary.items()], ["metric", "value"])
        if collapse:
            label = f"summary.json: all {len(summary)} values"
            h += f"<details><summary>{html.escape(label)}</summary>{th}</details>"
            md += f"<details><summary>{md_text(label)}</summary>\n\n{tm}\n</details>\n\n"
        else:
            h += th
            md += tm + "\n"
    if cfg_doc:
        h += f"<details><summary>config</summary><pre>{html.escape(json.dumps(cfg_doc, indent=2))}</pre></details>"
    return h, md


def _samples(samples: list[dict[str, Any]]) -> tuple[str, str]:
    """Generated text, each sample headed by what made it (checkpoint, prompt, temperature, top-k, seed)."""
    h, md = "", ""
    for s in samples:
        top_k = "all" if s.get("top_k") is None else s["top_k"]
        about = (f"Sample: checkpoint {s['checkpoint']} (step {s['step']}), prompt {s['prompt']!r}, temperature "
                 f"{s['temperature']}, top-k {top_k}, seed {s['seed']}")
        h += f"<p>{html.escape(about)}</p><pre>{html.escape(s['text'])}</pre>"
        longest = max((len(run) for run in re.findall(r"`+", s["text"])), default=0)
        fence = "`" * max(3, longest + 1)  # longer than any backtick run inside: the text cannot close it
        md += f"{md_text(about)}\n\n{fence}text\n{s['text']}\n{fence}\n\n"
    return h, md


def quote_url(path: str) -> str:
    """A relative path as a Markdown link target (spaces, brackets and the like percent-encoded)."""
    from urllib.parse import quote

    return quote(path)


def _inside(root: Path, rel: Any) -> Path | None:
    """`root / rel` when it is a folder inside `root` (a tour.json cannot point the report elsewhere)."""
    if not isinstance(rel, str) or not rel:
        return None
    p = (root / rel).resolve()
    return p if p.is_relative_to(root.resolve()) and p != root.resolve() else None


def page(title: str, body: str) -> str:
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f'<meta name="viewport" content="width=device-width,initial-scale=1"><style>{CSS}</style></head>'
        f"<body>{body}</body></html>\n"
    )


def build_run_report(run_dir: str | Path) -> Path:
    """Write report.html and report.md into a run directory (a tour directory gets the tour report)."""
    d = Path(run_dir)
    if (d / "tour.json").is_file():
        return build_tour_report(d)
    if not (d / "config.json").is_file():
        raise PilotlabError(f"{d} is not a run directory (no config.json)")
    h, md = run_section(d, level=1)
    atomic_write_text(d / "report.html", page(f"pilotlab report: {d.name}", h))
    atomic_write_text(d / "report.md", md)
    return d / "report.html"


def _headline_rows(stages: list[dict[str, Any]]) -> list[list[Any]]:
    rows = []
    for st in stages:
        for i, hl in enumerate(st.get("headlines", [])):
            status = ("", "")
            if hl.get("met") is True:
                status = ("met", "ok")
            elif hl.get("met") is False:
                status = ("not met", "bad")
            bench = hl.get("benchmark", "")
            rows.append([st["title"] if i == 0 else "", hl.get("label", "?"), hl.get("value"),
                         hl.get("compared", hl.get("baseline", "")), hl.get("target", hl.get("goal", "")), status,
                         (str(bench), "cmd")])
        if st["status"] != "ok":
            rows.append([st["title"], "stage failed", ("see below", "bad"), "", "", ("failed", "bad"), ""])
    return rows


SUMMARY_HEADER = ["stage", "result", "this tour", "compared with (measured in this tour)", "target at this budget",
                  "status", "full budget: benchmark command (docs/benchmarks.md)"]

READING = ("Each result is set beside the baselines measured in the same tour. Met / not met is shown only "
           "where the tour's own budget has a target; the full-budget numbers come from the benchmark command "
           "named in the last column (results in docs/benchmarks.md).")


def _str_list(v: Any) -> list[str]:
    return [str(x) for x in v] if isinstance(v, list) else []


def build_tour_report(tour_dir: str | Path) -> Path:
    """Write report.html and report.md for a tour directory holding tour.json: the headline table and key
    figures first, then one section per stage with its comparison tables; commands, run directories and
    full metric dumps folded."""
    d = Path(tour_dir)
    doc = runfiles.read_json(d / "tour.json", runfiles.TOUR_JSON)
    stages: list[dict[str, Any]] = doc["stages"]
    h = "<h1>pilotlab tour</h1>"
    md = "# pilotlab tour\n\n"
    intro = (
        f"Seed {doc['seed']}, {'quick' if doc.get('quick') else 'full'} budgets, "
        f"{doc.get('wall_s', 0):.0f} s in all ({doc.get('cpu_s', 0):.0f} s of CPU time), "
        f"finished {doc.get('finished', '?')}. "
        f"pilotlab {doc['versions'].get('pilotlab')}, torch {doc['versions'].get('torch')}, "
        f"Python {doc['versions'].get('python')}."
    )
    h += f'<p class="muted">{html.escape(intro)}</p>'
    md += md_text(intro) + "\n\n"
    th, tm = _table(_headline_rows(stages), SUMMARY_HEADER)
    h += "<h2>Summary</h2>" + f"<p>{html.escape(READING)}</p>" + th
    md += "## Summary\n\n" + md_text(READING) + "\n\n" + tm + "\n"
    test_sets = [(st["title"], t) for st in stages for t in _str_list(st.get("test_sets"))]
    if test_sets:
        lines = [f"{title}: {t}" for title, t in test_sets]
        h += "<p><b>Test sets used:</b></p><ul>" + "".join(f"<li>{html.escape(x)}</li>" for x in lines) + "</ul>"
        md += "**Test sets used:**\n\n" + "".join(f"- {md_text(x)}\n" for x in lines) + "\n"
    shown: set[Path] = set()
    key_h, key_md = "", ""
    for st in stages:
        for fig in st.get("figures", []):
            p = _inside_file(d, fig.get("path") if isinstance(fig, dict) else None)
            if p is None:
                continue
            shown.add(p)
            caption = f"{st['title']}: {fig.get('caption', '')}"
            key_h += figure_html(p, caption)
            key_md += f"![{md_text(caption)}]({quote_url(p.relative_to(d.resolve()).as_posix())})\n\n"
    if key_h:
        h += f'<h2>Key figures</h2><div class="key">{key_h}</div>'
        md += "## Key figures\n\n" + key_md
    for st in stages:
        sh, smd = _stage_section(d, st, frozenset(shown))
        h += sh
        md += smd
    atomic_write_text(d / "report.html", page("pilotlab tour report", h))
    atomic_write_text(d / "report.md", md)
    return d / "report.html"


def _inside_file(root: Path, rel: Any) -> Path | None:
    """`root / rel` when it is a file inside `root` (a tour.json cannot point the report elsewhere)."""
    if not isinstance(rel, str) or not rel:
        return None
    p = (root / rel).resolve()
    return p if p.is_relative_to(root.resolve()) and p.is_file() and p.suffix.lower() in _MIME else None


def _stage_section(d: Path, st: dict[str, Any], shown: frozenset[Path]) -> tuple[str, str]:
    """One stage: status, error, comparison tables and notes; commands and run directories folded."""
    h = f'<h2 id="{html.escape(str(st["key"]))}">{html.escape(st["title"])}</h2>'
    md = f"## {md_text(st['title'])}\n\n"
    line = f"{st['status']} in {st.get('wall_s', 0):.1f} s ({st.get('cpu_s', 0):.1f} s of CPU time)"
    h += f'<p class="muted">{html.escape(line)}</p>'
    md += md_text(line) + "\n\n"
    if st["status"] != "ok":
        h += f'<div class="error"><b>This stage failed:</b> <code>{html.escape(st.get("error", ""))}</code></div>'
        md += f"**This stage failed:** {md_text(st.get('error', ''))}\n\n"
    for table in st.get("tables", []):
        rows_, header = table.get("rows"), table.get("header")
        if not (isinstance(rows_, list) and isinstance(header, list) and all(isinstance(r, list) for r in rows_)):
            raise PilotlabError(f"{runfiles.quote(d / 'tour.json')}: a table of stage {st['key']!r} has no rows "
                                "and header lists; the file was damaged or edited")
        th, tm = _table(rows_, [str(c) for c in header])
        h += f"<h3>{html.escape(str(table.get('title', '')))}</h3>" + th
        md += f"### {md_text(table.get('title', ''))}\n\n" + tm + "\n"
    for note in st.get("notes", []):
        h += f"<p>{html.escape(note)}</p>"
        md += md_text(note) + "\n\n"
    if st.get("command"):
        label = "Equivalent command lines"
        text = chr(10).join(st["command"])
        h += f"<details><summary>{label}</summary><pre>{html.escape(text)}</pre></details>"
        md += f"<details><summary>{label}</summary>\n\n<pre>{html.escape(text)}</pre>\n\n</details>\n\n"
    runs_h, runs_md = "", ""
    for sub in st.get("runs", []):
        p = _inside(d, sub.get("dir"))
        if p is not None and (p / "config.json").is_file():
            sh, smd = run_section(p, level=3, title=str(sub.get("title", p.name)), collapse=True, skip=shown)
            runs_h += sh
            runs_md += smd.replace("](", f"]({quote_url(str(sub['dir']))}/")
    if runs_h:
        label = "Run directories: every figure, curve and summary value"
        h += f'<details class="runs"><summary>{label}</summary>{runs_h}</details>'
        md += f"<details><summary>{label}</summary>\n\n{runs_md}\n</details>\n\n"
    return h, md
