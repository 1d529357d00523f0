"""``report.html``: one page that shows a person what every task did (inputs, outputs, numbers).

Per task (one item each, the one the evaluation kept as a sample when there is one): the request's
inputs (text, caption, lyrics, instruction as text; prompt, source and enrolment audio as players),
the generated audio, the reference and its codec resynthesis (the best the LM could do through this
codec), each player with its spectrogram; then the task's metrics with the codec-resynthesis bound
(and the ground truth when scored) beside the model's. A header gives the scale of the run and what
to expect from it; an optional step table links each step to its MLflow run.

The page is self-contained: plain HTML and CSS, no scripts, no network; media are copied next to it
into ``<name>_files/`` and referenced by relative paths, so the folder can be moved or zipped.

    write_report("gen/results.jsonl", "gen/eval", "gen/eval/report.html")
"""

from __future__ import annotations

import html
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from uniaudio.evaluate.samples import _safe, log_spectrogram

#: request fields shown as audio players / as text, in this order
AUDIO_INPUTS = ("prompt", "source", "enrolment")
TEXT_INPUTS = ("text", "caption", "lyrics", "instruction", "label", "edit_span")
RESYNTH = "codec_resynthesis"


@dataclass
class StepLink:
    name: str
    status: str
    seconds: float | None = None
    summary: str = ""
    url: str | None = None  # the step's MLflow run in the UI


@dataclass
class Header:
    title: str = "UniAudio evaluation"
    scale: list[str] = field(default_factory=list)  # "codec: tiny preset, 200 steps", ...
    expect: str = ""  # what a run of this scale can and cannot show
    links: list[tuple[str, str]] = field(default_factory=list)  # (label, href)


def spectrogram_image(wav: np.ndarray, path: Path, range_db: float = 80.0, height: int = 128) -> Path:
    """A log spectrogram as a PNG (magma colours, low frequencies at the bottom), drawn with PIL."""
    from matplotlib import colormaps
    from PIL import Image

    spec = log_spectrogram(np.asarray(wav, dtype=np.float32))
    top = float(spec.max())
    norm = np.clip((spec - (top - range_db)) / range_db, 0.0, 1.0)[::-1]  # row 0 = highest frequency
    rgb = (colormaps["magma"](norm)[..., :3] * 255).astype(np.uint8)
    img = Image.fromarray(rgb).resize((max(64, min(800, spec.shape[1] * 2)), height))
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, optimize=True)
    return path


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # the evaluation already reported invalid lines
    return [r for r in rows if isinstance(r, dict) and r.get("task") and r.get("id")]


def _pick(records: list[dict[str, Any]], samples: Path) -> dict[str, dict[str, Any]]:
    """One record per task: the first whose evaluation sample exists, else the first."""
    out: dict[str, dict[str, Any]] = {}
    for r in records:
        t = r["task"]
        kept = (samples / t / f"{_safe(r['id'])}.model.wav").is_file()
        if t not in out or (kept and not out[t].get("_kept")):
            out[t] = {**r, "_kept": kept}
    return out


def _metrics(eval_dir: Path) -> dict[str, dict[str, dict[str, Any]]]:
    """``task -> metric -> {system: mean, 'higher': bool}`` from ``results.json``."""
    p = eval_dir / "results.json"
    if not p.is_file():
        return {}
    rows = json.loads(p.read_text()).get("rows", [])
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for r in rows:
        m = out.setdefault(r["task"], {}).setdefault(r["metric"], {"higher": r.get("higher_is_better")})
        m[r["system"]] = r.get("mean")
    return out


class _Media:
    def __init__(self, root: Path, folder: str):
        self.root, self.folder = root, folder
        self.dir = root / folder
        self.dir.mkdir(parents=True, exist_ok=True)

    def audio(self, src: Path, stem: str) -> str:
        """A player + spectrogram for the wav ``src`` (copied beside the page); '' if unreadable."""
        from uniaudio.audio import SAMPLE_RATE, load_audio, write_audio

        try:
            wav = load_audio(str(src))
        except Exception as err:  # noqa: BLE001 - a missing/corrupt file is shown, not fatal
            return f'<div class="missing">audio not readable: {html.escape(str(src))} ({html.escape(type(err).__name__)})</div>'
        name = _safe(stem)
        dst = self.dir / f"{name}.wav"  # re-written as 16 kHz PCM wav: every browser plays it
        write_audio(dst, wav, SAMPLE_RATE)
        png = spectrogram_image(wav, self.dir / f"{name}.png")
        rel = f"{self.folder}/{dst.name}"
        return (f'<audio controls preload="none" src="{html.escape(rel)}"></audio>'
                f'<img class="spec" alt="spectrogram" src="{html.escape(self.folder + "/" + png.name)}">'
                f'<div class="dur">{len(wav) / SAMPLE_RATE:.2f} s</div>')


def _fmt(v: Any) -> str:
    return "—" if v is None else f"{v:.3g}" if isinstance(v, float) else html.escape(str(v))


def _task_section(task: str, rec: dict[str, Any], results_dir: Path, samples: Path, media: _Media,
                  metrics: dict[str, dict[str, Any]]) -> str:
    rid = rec["id"]
    cells = []
    for k in TEXT_INPUTS:
        if rec.get(k) not in (None, ""):
            cells.append(f'<div class="field"><b>{k}</b><q>{html.escape(str(rec[k]))}</q></div>')
    for k in AUDIO_INPUTS:
        if rec.get(k):
            cells.append(f'<div class="audio"><b>input: {k}</b>{media.audio(Path(rec[k]), f"{task}-{rid}-{k}")}</div>')
    kept = samples / task / _safe(rid)
    out_path = rec.get("output")
    audio_out = isinstance(out_path, str) and len(out_path) < 4096 and (results_dir / out_path).is_file()
    outs = []
    if audio_out:
        src = Path(f"{kept}.model.wav") if Path(f"{kept}.model.wav").is_file() else results_dir / out_path
        outs.append(f'<div class="audio"><b>generated</b>{media.audio(src, f"{task}-{rid}-generated")}</div>')
    elif out_path is not None:
        outs.append(f'<div class="field"><b>generated</b><q>{html.escape(str(out_path))}</q></div>')
    if rec.get("reference"):
        outs.append(f'<div class="audio"><b>reference</b>{media.audio(Path(rec["reference"]), f"{task}-{rid}-reference")}</div>')
    if Path(f"{kept}.{RESYNTH}.wav").is_file():
        outs.append(f'<div class="audio"><b>reference through the codec</b>'
                    f'{media.audio(Path(f"{kept}.{RESYNTH}.wav"), f"{task}-{rid}-resynthesis")}</div>')
    systems = [s for s in ("model", RESYNTH, "ground_truth") if any(s in m for m in metrics.values())]
    head = "".join(f"<th>{html.escape({'model': 'model', RESYNTH: 'codec resynthesis (bound)'}.get(s, s))}</th>"
                   for s in systems)
    body = "".join(
        f"<tr><td>{html.escape(name)} {'↑' if m.get('higher') else '↓' if m.get('higher') is False else ''}</td>"
        + "".join(f"<td>{_fmt(m.get(s))}</td>" for s in systems) + "</tr>"
        for name, m in metrics.items())
    table = (f'<table class="metrics"><tr><th>metric</th>{head}</tr>{body}</table>' if body
             else '<p class="none">no metrics for this task</p>')
    return (f'<section id="{html.escape(_safe(task))}"><h2>{html.escape(task)}</h2>'
            f'<p class="id">{html.escape(rid)}</p>'
            f'<h3>request</h3><div class="row">{"".join(cells) or "<i>no inputs</i>"}</div>'
            f'<h3>output</h3><div class="row">{"".join(outs)}</div><h3>metrics</h3>{table}</section>')


_CSS = """body{font:14px/1.4 system-ui,sans-serif;margin:24px;max-width:1200px;color:#222}
header{border-bottom:2px solid #444;margin-bottom:16px}h2{margin:28px 0 4px;border-top:1px solid #ccc;padding-top:12px}
h3{margin:10px 0 4px;font-size:13px;color:#555;text-transform:uppercase}.id{color:#777;margin:0}
.row{display:flex;flex-wrap:wrap;gap:14px}.audio,.field{border:1px solid #ddd;border-radius:6px;padding:8px;width:360px}
.audio b,.field b{display:block;margin-bottom:4px}audio{width:100%}img.spec{width:100%;height:96px;display:block;margin-top:4px}
.dur{color:#777;font-size:12px}q{display:block}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
td:first-child,th:first-child{text-align:left}.missing{color:#a00}nav a{margin-right:8px}"""


def _header(h: Header, steps: Iterable[StepLink], tasks: list[str]) -> str:
    scale = "".join(f"<li>{html.escape(s)}</li>" for s in h.scale)
    links = " · ".join(f'<a href="{html.escape(u)}">{html.escape(t)}</a>' for t, u in h.links)
    rows = "".join(
        f"<tr><td>{html.escape(s.name)}</td><td>{html.escape(s.status)}</td><td>{_fmt(s.seconds)}</td>"
        f"<td>{html.escape(s.summary[:160])}</td><td>"
        + (f'<a href="{html.escape(s.url)}">MLflow run</a>' if s.url else "—") + "</td></tr>" for s in steps)
    steps_html = (f"<h3>steps</h3><table><tr><th>step</th><th>status</th><th>s</th><th>summary</th><th>MLflow</th></tr>"
                  f"{rows}</table>" if rows else "")
    nav = "".join(f'<a href="#{html.escape(_safe(t))}">{html.escape(t)}</a>' for t in tasks)
    return (f"<header><h1>{html.escape(h.title)}</h1>{'<ul>' + scale + '</ul>' if scale else ''}"
            f"{'<p>' + html.escape(h.expect) + '</p>' if h.expect else ''}{'<p>' + links + '</p>' if links else ''}"
            f"{steps_html}<nav>{nav}</nav></header>")


def write_report(results_path: str | Path, eval_dir: str | Path, out_html: str | Path,
                 header: Header | None = None, steps: Iterable[StepLink] = ()) -> Path:
    """Write the page (see the module doc) and return its path. Nothing is written on bad input:
    a missing results file raises ``UserFacingError`` naming it."""
    from uniaudio.errors import UserFacingError

    results_path, eval_dir, out_html = Path(results_path), Path(eval_dir), Path(out_html)
    if not results_path.is_file():
        raise UserFacingError(f"report: no results file {results_path}")
    records = _pick(_read_jsonl(results_path), eval_dir / "samples")
    metrics = _metrics(eval_dir)
    folder = f"{out_html.stem}_files"
    tmp_root = out_html.parent / f".{out_html.name}.tmp"
    shutil.rmtree(tmp_root, ignore_errors=True)
    media = _Media(tmp_root, folder)
    sections = [_task_section(t, rec, results_path.parent, eval_dir / "samples", media, metrics.get(t, {}))
                for t, rec in records.items()]
    page = (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape((header or Header()).title)}'
            f'</title><link rel="icon" href="data:,"><style>{_CSS}</style></head><body>'
            f"{_header(header or Header(), steps, list(records))}{''.join(sections)}</body></html>")
    (tmp_root / out_html.name).write_text(page)
    out_html.parent.mkdir(parents=True, exist_ok=True)
    final_media = out_html.parent / folder
    shutil.rmtree(final_media, ignore_errors=True)
    (tmp_root / folder).rename(final_media)  # media first, then the page that points at them
    (tmp_root / out_html.name).replace(out_html)
    shutil.rmtree(tmp_root, ignore_errors=True)
    return out_html
