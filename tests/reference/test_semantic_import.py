"""``import-reference semantic``: a fairseq-format HuBERT checkpoint and a joblib k-means become this project's
semantic tokenizer, giving the units the original model + k-means give; hostile pickles are refused.

The fairseq file is written here from a small random transformers HubertModel with fairseq's tensor names
(the published layout of hubert_base_ls960.pt: ``model`` + a plain-dict ``cfg`` + an ``args`` Namespace
that only plain unpickling could read), so the import's output can be compared with the original model."""

from __future__ import annotations

import argparse
import json
import os
import re

import numpy as np
import pytest
import torch

from uniaudio.errors import UserFacingError

CONV = "[(16,10,5)] + [(16,3,2)] * 4 + [(16,2,2)] * 2"


def _fairseq_name(k: str) -> str:
    """transformers HubertModel name -> fairseq HuBERT name (written independently of the importer)."""
    subs = [(r"^feature_extractor\.conv_layers\.(\d+)\.conv\.", r"feature_extractor.conv_layers.\1.0."),
            (r"^feature_extractor\.conv_layers\.0\.layer_norm\.", "feature_extractor.conv_layers.0.2."),
            (r"^feature_projection\.layer_norm\.", "layer_norm."), (r"^feature_projection\.projection\.", "post_extract_proj."),
            (r"^masked_spec_embed$", "mask_emb"),
            (r"^encoder\.pos_conv_embed\.conv\.parametrizations\.weight\.original0$", "encoder.pos_conv.0.weight_g"),
            (r"^encoder\.pos_conv_embed\.conv\.parametrizations\.weight\.original1$", "encoder.pos_conv.0.weight_v"),
            (r"^encoder\.pos_conv_embed\.conv\.weight_g$", "encoder.pos_conv.0.weight_g"),
            (r"^encoder\.pos_conv_embed\.conv\.weight_v$", "encoder.pos_conv.0.weight_v"),
            (r"^encoder\.pos_conv_embed\.conv\.bias$", "encoder.pos_conv.0.bias"),
            (r"\.attention\.", ".self_attn."), (r"(encoder\.layers\.\d+)\.layer_norm\.", r"\1.self_attn_layer_norm."),
            (r"\.feed_forward\.intermediate_dense\.", ".fc1."), (r"\.feed_forward\.output_dense\.", ".fc2.")]
    for pat, rep in subs:
        k = re.sub(pat, rep, k)
    return k


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """(dir, original HubertModel, fitted sklearn k-means) in the published file formats."""
    import joblib
    from sklearn.cluster import MiniBatchKMeans
    from transformers import HubertConfig, HubertModel

    torch.manual_seed(0)
    hc = HubertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                      conv_dim=(16,) * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4)
    model = HubertModel(hc).eval()
    d = tmp_path_factory.mktemp("published")
    state = {_fairseq_name(k): v.clone() for k, v in model.state_dict().items()}
    state["label_embs_concat"] = torch.zeros(504, 8)
    state["final_proj.weight"], state["final_proj.bias"] = torch.zeros(8, 32), torch.zeros(8)
    torch.save({"model": state, "args": argparse.Namespace(encoder_layers=2),
                "cfg": {"model": {"encoder_attention_heads": 2, "conv_feature_layers": CONV, "layer_norm_first": False}}},
               d / "hubert.pt")
    wav = np.random.default_rng(1).standard_normal(16000).astype(np.float32) * 0.1
    with torch.no_grad():
        feats = model(torch.from_numpy(wav)[None], output_hidden_states=True).hidden_states[2][0].numpy()
    km = MiniBatchKMeans(n_clusters=6, random_state=0, n_init=1).fit(feats)
    joblib.dump(km, d / "km.bin")
    return d, model, km, wav


def test_units_equal_the_original_model_and_kmeans(published, tmp_path):
    from uniaudio.cli import main
    from uniaudio.tokenizers.semantic import SemanticConfig, SemanticTokenizer, frame_features
    from uniaudio.tokenizers.features import FeatureConfig

    d, model, km, wav = published
    out = tmp_path / "semantic"
    assert main(["import-reference", "semantic", str(d / "hubert.pt"), str(d / "km.bin"), "--out", str(out),
                 "--layer", "2"]) == 0
    report = json.loads((out / "import_report.json").read_text())
    assert report["cfg_read"] and report["skipped_entries"] == {"args": ["argparse.Namespace"]}
    assert sorted(report["dropped_tensors"]) == ["final_proj.bias", "final_proj.weight", "label_embs_concat"]
    from transformers import HubertModel

    imported = HubertModel.from_pretrained(str(out / "hubert"), local_files_only=True).eval()
    x = torch.from_numpy(wav)[None]
    with torch.no_grad():
        ours = imported(x, output_hidden_states=True).hidden_states
        theirs = model(x, output_hidden_states=True).hidden_states
    diff = max((a - b).abs().max().item() for a, b in zip(ours, theirs))
    print(f"max |hidden-state diff| over {len(ours)} states: {diff:.3g}")
    assert diff < 1e-5
    # the tokenizer's units = the original model's layer-2 states (same zero padding) through the original k-means
    tok = SemanticTokenizer(SemanticConfig(enabled=True, kmeans_path=str(out / "kmeans.npz"), hubert_dir=str(out / "hubert")))
    units = tok.tokenize(wav)
    f = 50
    padded = np.pad(wav, (0, max(0, (f - 1) * 320 + 400 - len(wav))))
    with torch.no_grad():
        feats = model(torch.from_numpy(padded)[None], output_hidden_states=True).hidden_states[2][0, :f].numpy()
    assert units.dtype == np.int16 and units.shape == (f,)
    assert (units == km.predict(feats)).all()
    assert np.abs(frame_features(wav, FeatureConfig(kind="hubert", hubert_layer=2), str(out / "hubert")) - feats).max() < 1e-4


def test_layer_outside_the_model(published, tmp_path):
    from uniaudio.reference.semantic_import import import_semantic

    d = published[0]
    with pytest.raises(UserFacingError, match="layer 9 is not one of the checkpoint's 1..2 transformer layers"):
        import_semantic(d / "hubert.pt", d / "km.bin", tmp_path / "o")


def test_hostile_kmeans_pickle_is_refused_and_nothing_runs(published, tmp_path):
    import joblib

    from uniaudio.reference.semantic_import import import_semantic

    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    joblib.dump({"cluster_centers_": Evil()}, tmp_path / "evil.bin")
    with pytest.raises(UserFacingError, match=r"evil.bin: refused: the file references posix.system"):
        import_semantic(published[0] / "hubert.pt", tmp_path / "evil.bin", tmp_path / "o", layer=2)
    assert not marker.exists() and not (tmp_path / "o").exists()
    joblib.dump(np.array([Evil()], dtype=object), tmp_path / "evil2.bin")
    with pytest.raises(UserFacingError, match="object-dtype array"):
        import_semantic(published[0] / "hubert.pt", tmp_path / "evil2.bin", tmp_path / "o", layer=2)
    assert not marker.exists()


def test_missing_tensor_is_named(published, tmp_path):
    from uniaudio.reference.semantic_import import import_semantic

    d = published[0]
    ck = torch.load(d / "hubert.pt", weights_only=False)  # our own file
    del ck["model"]["encoder.layers.1.fc2.bias"]
    torch.save({"model": ck["model"], "cfg": ck["cfg"]}, tmp_path / "h.pt")
    with pytest.raises(UserFacingError, match="nothing maps to encoder.layers.1.feed_forward.output_dense.bias"):
        import_semantic(tmp_path / "h.pt", d / "km.bin", tmp_path / "o", layer=2)
