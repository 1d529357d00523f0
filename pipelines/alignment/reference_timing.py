"""Speech with known phone and word boundaries: festival synthesizes it and reports its own segments.

The measurement of :mod:`pipelines.alignment` (tests, ``benchmarks/alignment_boundaries.py``) needs
audio whose true boundaries are known; a diphone synthesizer places every phone where it says, so its
segment list (phone, start, end, word) is exact. Pauses (``pau``) belong to no word.

>>> words_of([("pau", 0.0, 0.2, "0"), ("hh", 0.2, 0.3, "hi"), ("ay", 0.3, 0.5, "hi")])
[('hi', 0.2, 0.5)]
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path


def festival_available() -> bool:
    return shutil.which("festival") is not None


def festival_segments(text: str, wav_path: str | Path, voice: str = "kal_diphone") -> list[tuple[str, float, float, str]]:
    """Synthesize ``text`` into ``wav_path``; -> [(phone, start_s, end_s, word)] (``pau``: word ``0``)."""
    quoted = text.replace("\\", " ").replace('"', '\\"')
    script = (f"(voice_{voice})\n(set! u (Utterance Text \"{quoted}\"))\n(utt.synth u)\n"
              f"(utt.save.wave u \"{wav_path}\" 'riff)\n"
              "(mapcar (lambda (s) (format t \"S\\t%s\\t%f\\t%f\\t%s\\n\" (item.name s) (item.feat s \"segment_start\") "
              "(item.feat s \"end\") (item.feat s \"R:SylStructure.parent.parent.name\"))) (utt.relation.items u 'Segment))\n")
    with tempfile.TemporaryDirectory() as tmp:
        scm = Path(tmp) / "say.scm"
        scm.write_text(script, encoding="utf-8")
        out = subprocess.run(["festival", "-b", str(scm)], capture_output=True, text=True, timeout=120, check=True).stdout
    segs = []
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) == 5 and parts[0] == "S":
            segs.append((parts[1], float(parts[2]), float(parts[3]), parts[4]))
    if not segs:
        raise RuntimeError(f"festival gave no segments for {text!r}")
    return segs


def words_of(segs: list[tuple[str, float, float, str]]) -> list[tuple[str, float, float]]:
    """Word intervals from segments: consecutive non-pause phones of one word item."""
    out: list[list] = []
    prev_pause = True
    for ph, a, b, w in segs:
        if ph == "pau":
            prev_pause = True
            continue
        if out and not prev_pause and out[-1][0] == w:
            out[-1][2] = b
        else:
            out.append([w, a, b])
        prev_pause = False
    return [(w, a, b) for w, a, b in out]
