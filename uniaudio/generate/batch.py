"""Batch mode: a requests JSONL in, wavs + ``results.jsonl`` (+ ``errors.jsonl``) out.

``results.jsonl`` follows the RESULTS contract of ``uniaudio evaluate`` (docs/EVALUATION.md): one line
per generated request with ``task``, ``id``, ``output`` (wav path relative to the results file, asr
text, or sv label) and the references passed through from the request (``reference``, ``text``,
``prompt``, ``enrolment``, ``source``, ``caption``, ``label``), plus ``seed``, ``frames``, ``seconds``,
``stop`` and ``model``. A request that cannot be used (bad line, missing input file, G2P failure, ...)
is never silently dropped: it goes to ``errors.jsonl`` with the reason and the run goes on.

Outputs stay inside ``out_dir``: a request's ``output`` is relative to it (checked again after
resolving symlinks), two requests never share an output, and an existing file is never replaced
unless ``overwrite`` (``--overwrite``); such requests fail before any generation work. A wav that cannot
be written fails its own request only.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence as Seq

from uniaudio.generate.requests import BadRequest, Request, _audio_target
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


def plan_outputs(requests: Seq[Request], out_dir: Path, overwrite: bool = False) -> tuple[list[Request], list[dict]]:
    """Bind every audio request to its file inside ``out_dir`` -> (requests to run, error records)."""
    import dataclasses

    root = out_dir.resolve()
    keep, errors, taken = [], [], {}
    for r in requests:
        if not _audio_target(r.task):
            keep.append(r)
            continue
        rel = r.output or f"wavs/{r.id}.wav"
        path = (root / rel).resolve()  # a symlinked folder inside out_dir must not lead out of it
        reason = None
        if root not in path.parents:
            reason = f"output {rel!r} resolves outside --out-dir ({path})"
        elif str(path) in taken:
            reason = f"output {rel!r} is also the output of request {taken[str(path)]!r}"
        elif path.exists() and not overwrite:
            reason = f"output {rel!r} exists in {out_dir}; pass --overwrite to replace it"
        if reason:
            errors.append({"id": r.id, "task": r.task, "reason": reason})
            continue
        taken[str(path)] = r.id
        keep.append(dataclasses.replace(r, output=str(path)))
    return keep, errors


def run_batch(gen: Generator, requests: Seq[Request], bad: Seq[BadRequest], out_dir: str | Path,
              progress: bool = True, overwrite: bool = False) -> BatchSummary:
    """Generate ``requests`` into ``out_dir`` (wavs under ``out_dir/wavs`` unless a request names its
    ``output`` inside it) and write the JSONL files. An object-store ``out_dir`` (``s3://``) is filled
    through a node-local staging folder and uploaded when the batch is done."""
    from uniaudio.stores import uri as uris

    if uris.is_remote(out_dir):
        return _run_batch_remote(gen, requests, bad, str(out_dir), progress, overwrite)
    return _run_batch(gen, requests, bad, Path(uris.local_path(out_dir)), progress, overwrite)


def _run_batch_remote(gen: Generator, requests: Seq[Request], bad: Seq[BadRequest], out_uri: str,
                      progress: bool, overwrite: bool) -> BatchSummary:
    import hashlib
    import shutil

    from uniaudio.stores import uri as uris

    stage = uris.cache_dir() / "generate" / hashlib.sha256(out_uri.encode()).hexdigest()[:24]
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    existing = {rel for rel, _ in uris.list_files(out_uri)}
    for rel in existing:  # placeholders: the overwrite check sees what the bucket already holds
        (stage / rel).parent.mkdir(parents=True, exist_ok=True)
        (stage / rel).touch()
    seeded = {rel: (stage / rel).stat().st_mtime_ns for rel in existing}
    s = _run_batch(gen, requests, bad, stage, progress, overwrite)
    for p in sorted(stage.rglob("*")):
        rel = p.relative_to(stage).as_posix()
        if p.is_file() and seeded.get(rel) != p.stat().st_mtime_ns:  # written by this batch
            with p.open("rb") as f:
                uris.put(uris.join(out_uri, rel), f.read())
    if s.errors is None and ERRORS in existing:  # a stale errors file would be misleading
        fs, path = uris.filesystem(uris.join(out_uri, ERRORS))
        fs.delete_file(path)
    s.results = uris.join(out_uri, RESULTS)
    s.errors = uris.join(out_uri, ERRORS) if s.errors else None
    shutil.rmtree(stage, ignore_errors=True)
    return s


def _run_batch(gen: Generator, requests: Seq[Request], bad: Seq[BadRequest], out: Path, progress: bool,
               overwrite: bool) -> BatchSummary:
    from uniaudio.progress import bar

    t0 = time.time()
    out.mkdir(parents=True, exist_ok=True)
    n_asked = len(requests)
    requests, refused = plan_outputs(requests, out, overwrite)
    with bar(total=len(requests), desc="generate", unit="req", disable=not progress) as b:
        outcomes = gen.generate(requests, progress=b.update)
    records, errors = [], [{"line": b.line, "id": b.id, "task": b.task, "reason": b.reason} for b in bad]
    errors += refused
    for o in outcomes:
        if o.ok:
            try:
                records.append(write_outcome(o, out, gen.loaded.uri))
                continue
            except (OSError, ValueError, RuntimeError) as err:  # soundfile: unwritable path / format
                o.error = f"cannot write {o.request.output}: {str(err).splitlines()[0][:200] if str(err) else type(err).__name__}"
        errors.append({"id": o.request.id, "task": o.request.task, "reason": o.error})
    _write_jsonl(out / RESULTS, records)
    err_path = out / ERRORS
    if errors:
        _write_jsonl(err_path, errors)
    elif err_path.exists():
        err_path.unlink()  # a stale file from an earlier run would be misleading
    ok = [o for o in outcomes if o.ok]
    return BatchSummary(
        requests=n_asked + len(bad), generated=len(ok), failed=len(errors),
        ended_by_model=sum(o.stop == "eos" for o in ok),
        audio_seconds=sum(o.frames for o in ok if o.wav is not None) / 50.0, seconds=time.time() - t0,
        results=str(out / RESULTS), errors=str(err_path) if errors else None,
    )
