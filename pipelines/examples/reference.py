"""The single-process build of the new examples: the reference the distributed build is checked
against (tests) and measured against (``benchmarks/examples_build.py``). Not used by the job.

It reads every token row the new examples of a dataset need into memory at once, so it only suits
small stores; :mod:`pipelines.examples.distributed` builds the same rows, byte for byte, at any size.
"""

from __future__ import annotations

from typing import Any

from uniaudio.stores import delta
from pipelines.examples.choices import Choice
from pipelines.examples.config import ExamplesConfig
from pipelines.examples.example import build_or_skip
from uniaudio.vocab import load_vocab


def build_reference(tokens: str, version: int, plans: list[Any], cfg: ExamplesConfig
                    ) -> list[tuple[Choice, dict[str, Any] | None, str | None]]:
    """(choice, row or None, skip reason or None) of every new example of ``plans`` (DatasetPlan)."""
    vocab = load_vocab()
    out = []
    for plan in plans:
        if not plan.new:
            continue
        rows = {r["utt_id"]: r for r in delta.read_table(tokens, version, filter_equals={"dataset": plan.dataset},
                                                         filter_in={"utt_id": sorted(plan.row_fps)}).to_pylist()}
        for fp, c in sorted(plan.new.items(), key=lambda kv: kv[1].example_id):
            row, reason = build_or_skip(c, fp, rows, vocab, cfg, version)
            out.append((c, row, reason))
    return out
