"""The imported published LM reproduces the published forward pass, and the import report is exact."""

from __future__ import annotations

import hashlib
import json

import torch
import yaml

from tests.reference.ref_helpers import LM_EXP

# Published specials without a counterpart here: the dead image / text-prompt / AT / TTA / t2a markers
# and the SPEAR-TTS split tasks and the LM task (../shared/UNIAUDIO.md §2.1, §3.1).
NO_COUNTERPART = {
    "<image_start>", "<image_end>", "<text_prompt_start>", "<text_prompt_end>", "<lm_task>",
    "<phone_to_semantic_task>", "<semantic_to_acoustic_task>", "<text_emb_start>", "<text_emb_end>", "<AT_task>",
    "<class_event_start>", "<class_event_end>", "<TTA_task>", "<rvq_start>", "<rvq_end>", "<unused_special_token>",
}


def _token_list() -> list[str]:
    return yaml.safe_load((LM_EXP / "config.yaml").read_text())["token_list"]


def _logits_here(out_dir, tokens: torch.Tensor, loss_mask: torch.Tensor, id_map: dict[int, int]) -> torch.Tensor:
    """Imported-model logits ``[B, L, V_here]`` for published ``tokens [B, L]``: ids translated, the
    prefix = the frames before the first loss frame (the published prefix-LM mask)."""
    import uniaudio

    loaded = uniaudio.load_model(str(out_dir))
    lut = torch.full((len(_token_list()),), -1, dtype=torch.long)
    lut[torch.tensor(list(id_map))] = torch.tensor(list(id_map.values()))
    here = lut[tokens]
    assert (here >= 0).all(), "every golden token has a counterpart"
    b, length = tokens.shape
    n_q = loaded.config.n_q
    prefix = loss_mask.view(b, length // n_q, n_q)[..., 0].int().argmax(1)
    with torch.no_grad():
        return loaded.model(here.view(b, length // n_q, n_q), prefix_lens=prefix).reshape(b, length, -1)


def test_logits_equal_published_at_every_real_position(imported_lm, golden_io):
    _, out, result = imported_lm
    id_map = {int(k): v for k, v in result.report["id_map"].items()}
    ours = _logits_here(out, golden_io["tokens"], golden_io["loss_mask"], id_map)
    src, dst = torch.tensor(list(id_map)), torch.tensor(list(id_map.values()))
    for row, length in enumerate(golden_io["lengths"].tolist()):
        diff = (ours[row, :length][:, dst] - golden_io["logits"][row, :length][:, src]).abs().max().item()
        print(f"sequence {row}: {length} real positions, max |logit diff| = {diff:.3g}")
        assert diff < 1e-4


def test_report_lists_exactly_the_ids_without_counterpart(imported_lm):
    _, out, result = imported_lm
    names = _token_list()
    report = json.loads((out / "import_report.json").read_text())
    expected = [i for i, n in enumerate(names) if n in NO_COUNTERPART]
    assert [u["id"] for u in report["unmapped"]] == expected
    assert sorted(int(k) for k in report["id_map"]) == sorted(set(range(len(names))) - set(expected))
    # every id here either has a published source or is listed as untrained, never both
    from uniaudio.vocab import load_vocab

    v = load_vocab()
    untrained = {i for a, b in report["untrained"] for i in range(a, b)}
    assert untrained.isdisjoint(report["id_map"].values())
    assert len(untrained) + len(report["id_map"]) == v.size == len(untrained | set(report["id_map"].values()))
    assert report["untrained_count"] == len(untrained)


def test_ids_translate_by_name(imported_lm):
    from uniaudio.vocab import load_vocab

    v, names = load_vocab(), _token_list()
    id_map = {int(k): val for k, val in imported_lm[2].report["id_map"].items()}
    by_name = {n: id_map[i] for i, n in enumerate(names) if i in id_map}
    assert by_name["<audio_1025>"] == v.codebook_range(1).start + 1
    assert by_name["<audio_3071>"] == v.codebook_range(2).start + 1023
    assert by_name["<phone_109>"] == v.range("phone").start + 109
    assert by_name["<semantic_499>"] == v.range("semantic").start + 499
    assert by_name["<mega_global>"] == v.global_sos and by_name["<mega_local>"] == v.local_sos
    assert by_name["<tts_task>"] == v.task_id("tts") and by_name["<end>"] == v.end


def test_export_layout_lineage_and_skipped_entries(imported_lm):
    exp, out, result = imported_lm
    import uniaudio

    loaded = uniaudio.load_model(str(out))
    assert not loaded.model.training
    c = loaded.config
    assert (c.frame_embedding, c.global_to_local, c.positions, c.attention, c.key_bias) == \
        ("concat", "chunk", "learned", "prefix_lm", False)
    assert (c.d_model, c.n_layer, c.n_head, c.n_local_layer, c.max_frames, c.cont_dim, c.n_q) == (48, 2, 2, 1, 256, 768, 3)
    assert not any(name.endswith("qkv.bias") for name, _ in loaded.model.named_parameters())
    sha = hashlib.sha256((exp / "ep1.checkpoint").read_bytes()).hexdigest()
    assert loaded.lineage["checkpoint_sha256"] == sha
    assert set(result.report["skipped_entries"]) == {"scheduler", "reporter"}
    assert result.report["skipped_entries"]["scheduler"] == ["tests.reference.ref_helpers.Scheduler"]
    assert "skipped checkpoint entries: scheduler, reporter" in result.summary()


def test_import_logged_to_mlflow_with_source_hashes(imported_lm, mlflow_uri):
    from mlflow import MlflowClient

    exp, out, result = imported_lm
    client = MlflowClient(tracking_uri=mlflow_uri)
    run = client.get_run(result.run_id)
    for name in ("ep1.checkpoint", "config.yaml"):
        key = "source.checkpoint_sha256" if name.endswith("checkpoint") else "source.config_yaml_sha256"
        assert run.data.params[key] == hashlib.sha256((exp / name).read_bytes()).hexdigest()
    assert run.data.metrics["ids_unmapped"] == len(result.report["unmapped"])
    assert {a.path for a in client.list_artifacts(result.run_id)} >= {"import_report.json", "lineage.json"}


def test_incremental_decoding_reproduces_the_published_logits(imported_lm, golden_io):
    """The path ``generate`` takes (prefill of the prefix, then one frame at a time through the KV cache,
    both rows batched with different prefix lengths) gives the published logits at every target token."""
    import uniaudio

    _, out, result = imported_lm
    id_map = {int(k): v for k, v in result.report["id_map"].items()}
    loaded = uniaudio.load_model(str(out))
    model, n_q = loaded.model, loaded.config.n_q
    lut = torch.full((len(_token_list()),), -1, dtype=torch.long)
    lut[torch.tensor(list(id_map))] = torch.tensor(list(id_map.values()))
    tokens, b = golden_io["tokens"], golden_io["tokens"].shape[0]
    frames = lut[tokens].view(b, -1, n_q)
    prefix = golden_io["loss_mask"].view(b, -1, n_q)[..., 0].int().argmax(1)
    n_frames = (golden_io["lengths"] // n_q).tolist()
    src, dst = torch.tensor(list(id_map)), torch.tensor(list(id_map.values()))
    state = model.prefill(frames, prefix, max_slots=int(prefix.max()) + 1 + frames.shape[1])
    worst, checked = 0.0, 0
    with torch.no_grad():
        for step in range(frames.shape[1] - int(prefix.min())):
            t = (prefix + step).clamp(max=frames.shape[1] - 1)  # [B] the frame each row predicts now
            frame = frames[torch.arange(b), t]  # [B, n_q], teacher-forced
            for k in range(n_q):
                logits = model.local_logits(state, frame[:, k - 1] if k else None, k)
                for row in range(b):
                    if int(prefix[row]) + step < n_frames[row]:
                        ref = golden_io["logits"][row, n_q * int(t[row]) + k, src]
                        worst = max(worst, (logits[row, dst] - ref).abs().max().item())
                        checked += 1
            model.global_step(state, frame)
    print(f"incremental decoding: {checked} target tokens, max |logit diff| = {worst:.3g}")
    assert checked == sum(n_q * (n - int(p)) for n, p in zip(n_frames, prefix.tolist()))
    assert worst < 1e-4


def test_logged_model_opens_from_mlflow(tmp_path, mlflow_uri, capsys, monkeypatch):
    """``--log-model``: ``uniaudio.load_model("runs:/<id>/model")`` opens the import like the local dir;
    the artifacts go beside the export, never into the current directory."""
    import re

    monkeypatch.chdir(tmp_path)
    import uniaudio
    from tests.reference.ref_helpers import published_exp
    from uniaudio.cli import main

    exp = published_exp(tmp_path / "exp")
    out = tmp_path / "out"
    assert main(["import-reference", "lm", str(exp), "--out", str(out), "--tracking-uri", mlflow_uri, "--log-model"]) == 0
    line = capsys.readouterr().out.strip()
    run_id = re.search(r"MLflow run (\w+)$", line).group(1)
    remote = uniaudio.load_model(f"runs:/{run_id}/model", work_dir=str(tmp_path / "dl"), tracking_uri=mlflow_uri)
    local = uniaudio.load_model(str(out))
    assert remote.config == local.config and not remote.model.training
    for (name, a), (_, b) in zip(remote.model.state_dict().items(), local.model.state_dict().items()):
        assert torch.equal(a, b), name
    assert not (tmp_path / "mlruns").exists() and not (tmp_path / "mlartifacts").exists()
