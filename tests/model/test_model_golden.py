"""Golden-tensor regression: a seeded ``tiny`` model's logits on a fixed input, stored in
``tests/assets/model_golden_tiny.pt`` (loaded with ``weights_only=True``).

A failure means the model's math (or its initialisation order) changed. If the change is intended,
regenerate the file and commit it together with the change::

    .venv/bin/python tests/model/test_model_golden.py --regenerate

Stored: the input batch, 32 chosen vocabulary columns of the logits, the log-sum-exp over the full
vocabulary at every position (so every column is covered without storing [B, T, n_q, 23552]) and the
masked training loss. Tolerance: 1e-4 absolute/relative (fp32 CPU; only rounding may differ).
"""

import json
import sys
from pathlib import Path

import torch

ASSET = Path(__file__).resolve().parents[1] / "assets" / "model_golden_tiny.pt"
SEED = 1234
sys.path.insert(0, str(Path(__file__).resolve().parent))  # model_helpers, when run as a script

from model_helpers import VOCAB, make_batch  # noqa: E402
from uniaudio.model import ModelBatch, OutputRules, build_model, get_preset, lm_loss  # noqa: E402


def golden_ids() -> torch.Tensor:
    ids = [VOCAB.codebook_range(k).start + j for k in range(3) for j in (0, 1, 511, 1023)]
    ids += [VOCAB.end_of("audio"), VOCAB.end_of("text"), VOCAB.end_of("label"), VOCAB.end, VOCAB.pad, VOCAB.mask]
    ids += [VOCAB.range("text").start + j for j in (0, 65, 97, 255)]
    ids += [VOCAB.range("label").start, VOCAB.range("label").start + 1, VOCAB.range("phone").start]
    ids += [VOCAB.codebook_range(3).start, VOCAB.codebook_range(15).start + 1023, VOCAB.size - 1]
    ids += [VOCAB.task_id("tts"), VOCAB.start_of("audio"), VOCAB.global_sos, VOCAB.local_sos]
    return torch.tensor(ids[:32])


def compute(frames, prefix_lens, cont_values):
    torch.manual_seed(SEED)
    model = build_model(get_preset("tiny")).eval()
    batch = ModelBatch(frames, torch.zeros(frames.shape[:2], dtype=torch.bool), prefix_lens,
                       torch.full_like(prefix_lens, frames.shape[1]), cont_values)
    batch.loss_mask = torch.arange(frames.shape[1])[None] >= prefix_lens[:, None]
    batch.loss_mask &= frames[..., 0] != VOCAB.pad
    with torch.no_grad():
        logits = model(frames, prefix_lens, cont_values)
        loss = lm_loss(model, batch, OutputRules(VOCAB, 3)).loss
    return {"logits_sel": logits[..., golden_ids()], "lse": torch.logsumexp(logits, -1), "loss": loss}


def regenerate() -> None:
    batch = make_batch(("tts", "text_to_sound", "asr"), seed=7)
    idx = batch.cont_values.abs().sum(-1).nonzero()  # [L, 2] (row, frame) of continuous frames
    out = compute(batch.frames, batch.prefix_lens, batch.cont_values)
    doc = {
        "config": json.dumps(get_preset("tiny").to_dict(), sort_keys=True),
        "torch": str(torch.__version__),
        "frames": batch.frames,
        "prefix_lens": batch.prefix_lens,
        "cont_index": idx,
        "cont_rows": batch.cont_values[idx[:, 0], idx[:, 1]],
        "ids": golden_ids(),
        **out,
    }
    ASSET.parent.mkdir(parents=True, exist_ok=True)
    torch.save(doc, ASSET)
    print(f"wrote {ASSET} ({ASSET.stat().st_size} bytes)")


def test_golden_logits():
    doc = torch.load(ASSET, weights_only=True)
    assert doc["config"] == json.dumps(get_preset("tiny").to_dict(), sort_keys=True), \
        "the tiny preset changed: regenerate the golden file (see this module's docstring)"
    assert torch.equal(doc["ids"], golden_ids())
    frames = doc["frames"]
    cont = torch.zeros(*frames.shape[:2], doc["cont_rows"].shape[1])
    cont[doc["cont_index"][:, 0], doc["cont_index"][:, 1]] = doc["cont_rows"]
    out = compute(frames, doc["prefix_lens"], cont)
    for key in ("logits_sel", "lse", "loss"):
        torch.testing.assert_close(out[key], doc[key], atol=1e-4, rtol=1e-4, msg=lambda m: f"{key}: {m}")


if __name__ == "__main__":
    if "--regenerate" not in sys.argv:
        sys.exit("usage: python tests/model/test_model_golden.py --regenerate")
    regenerate()
