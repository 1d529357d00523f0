"""Batch mode: a requests JSONL in, wavs + ``results.jsonl`` (+ ``errors.jsonl``) out.

``results.jsonl`` follows the RESULTS contract of ``uniaudio evaluate`` (docs/EVALUATION.md): one line
per generated request with ``task``, ``id``, ``output`` (wav path relative to the results file, asr
text, or sv label) and the references passed through from the request (``reference``, ``text``,
``prompt``, ``enrolment``, ``source``, ``caption``, ``label``), plus ``seed``, ``frames``, ``seconds``,
``stop`` and ``model``. A request that cannot be used (bad line, missing input file, G2P failure, ...)
is never silently dropped: it goes to ``errors.jsonl`` with the reason and the run goes on.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence as Seq

from uniaudio.generate.requests import BadRequest, Request
from uniaudio.generate.runner import Generator, write_outcome

RESULTS, ERRORS = "results.jsonl", "errors.jsonl"


@dataclass
class BatchSummary:
    requests: int
    generated: int
    failed: int
    ended_by_model: int  # outputs the model ended itself (the others hit their max length)
    audio_seconds: float
    seconds: float
    results: str
    errors: str | None

    def line(self) -> str:
        rt = self.audio_seconds / self.seconds if self.seconds > 0 else 0.0
        err = f", {self.failed} failed (see {self.errors})" if self.failed else ""
        return (f"generated {self.generated}/{self.requests} requests{err}; {self.ended_by_model} ended by the model; "
                f"{self.audio_seconds:.1f} s of audio in {self.seconds:.1f} s ({rt:.2f}x real time); results: {self.results}")


def _write_jsonl(path: Path, records: Seq[dict]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    os.replace(tmp, path)  # a reader never sees a half-written results file


def run_batch(gen: Generator, requests: Seq[Request], bad: Seq[BadRequest], out_dir: str | Path,
              progress: bool = True) -> BatchSummary:
    """Generate ``requests`` into ``out_dir`` (wavs under ``out_dir/wavs``) and write the JSONL files."""
    from uniaudio.progress import bar

    t0 = time.time()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with bar(total=len(requests), desc="generate", unit="req", disable=not progress) as b:
        outcomes = gen.generate(requests, progress=b.update)
    records, errors = [], [{"line": b.line, "id": b.id, "task": b.task, "reason": b.reason} for b in bad]
    for o in outcomes:
        if o.ok:
            records.append(write_outcome(o, out, gen.loaded.uri))
        else:
            errors.append({"id": o.request.id, "task": o.request.task, "reason": o.error})
    _write_jsonl(out / RESULTS, records)
    err_path = out / ERRORS
    if errors:
        _write_jsonl(err_path, errors)
    elif err_path.exists():
        err_path.unlink()  # a stale file from an earlier run would be misleading
    ok = [o for o in outcomes if o.ok]
    return BatchSummary(
        requests=len(requests) + len(bad), generated=len(ok), failed=len(errors),
        ended_by_model=sum(o.stop == "eos" for o in ok),
        audio_seconds=sum(o.frames for o in ok if o.wav is not None) / 50.0, seconds=time.time() - t0,
        results=str(out / RESULTS), errors=str(err_path) if errors else None,
    )
