"""Classifier-free guidance in the decoder and the generator: w = 1 is today's decoder bit for bit, the
mixed logits are exactly u + w (c - u), guided batch == one by one (with compaction), unguided rows of
a mixed batch are unchanged; config, results record and CLI flag."""

import json

import numpy as np
import pytest
import torch

from gen_helpers import VOCAB
from uniaudio.conditioning_dropout import drop_conditions
from uniaudio.config import ConfigError, load_config
from uniaudio.generate.config import GenerateConfig
from uniaudio.generate.decoder import RowSpec, generate
from uniaudio.generate.sampling import SamplingConfig
from uniaudio.sequence import build_sequence

SAMPLING = SamplingConfig(top_k=20, top_p=0.95, temperature=1.0)


def prefixes(seed=0):
    """Prefixes of guided tasks (text_to_sound, audio_edit, instruct_tts) and unguided ones (se, asr)."""
    rng = np.random.default_rng(seed)
    codes = lambda n: rng.integers(0, 1024, (n, 3))  # noqa: E731
    emb = lambda n: rng.standard_normal((n, 384)).astype(np.float32)  # noqa: E731
    segs = {"text_to_sound": {"caption": emb(4)}, "se": {"source": codes(9)},
            "audio_edit": {"instruction": emb(3), "source": codes(6)},
            "asr": {"source": codes(4)}, "instruct_tts": {"phone": rng.integers(0, 90, 5), "instruction": emb(2)}}
    return {t: build_sequence(t, s, VOCAB, with_target=False) for t, s in segs.items()}


DROP = {"text_to_sound": ["caption"], "audio_edit": ["instruction"], "instruct_tts": ["instruction"]}
MODALITY = {"asr": "text"}


def rows(scales, max_frames=(5, 8, 3, 6, 7), seed=0):
    """One row per task of :func:`prefixes`; guided tasks get their unconditional prefix and a scale."""
    out = []
    for i, (task, p) in enumerate(prefixes(seed).items()):
        un = drop_conditions(p, DROP[task], VOCAB) if task in DROP else None
        out.append(RowSpec(p, MODALITY.get(task, "audio"), 1, max_frames[i], seed=40 + i, uncond=un,
                           cfg_scale=scales.get(task, 1.0)))
    return out


def same(a, b):
    return all(np.array_equal(x.frames, y.frames) and x.stop == y.stop for x, y in zip(a, b, strict=True))


def recorder(log):
    def hook(logits, k, t):
        log.append(logits.clone())
        return logits
    return hook


def test_scale_one_is_todays_decoder_bit_for_bit(model):
    plain = [RowSpec(r.prefix, r.modality, r.min_frames, r.max_frames, r.seed) for r in rows({})]
    log_plain, log_one = [], []
    a = generate(model, plain, SAMPLING, logits_hook=recorder(log_plain))
    b = generate(model, rows({}), SAMPLING, logits_hook=recorder(log_one))  # uncond given, w = 1.0
    assert same(a, b)
    assert len(log_plain) == len(log_one) and all(torch.equal(x, y) for x, y in zip(log_plain, log_one))
    assert GenerateConfig().cfg_scale_of("text_to_sound") == 1.0  # the default is off


def script_hook(script, log):
    """Record the logits the sampler sees, then force row i's token to ``script[i](t, k)``."""
    def hook(logits, k, t):
        log.append(logits.clone())
        forced = logits.clone()
        for i, f in enumerate(script):
            forced[i, f(int(t), k)] += 1e4
        return forced
    return hook


def codebook_token(offset):
    return lambda t, k: VOCAB.codebook_range(k).start + (37 * t + 11 * k + offset) % 1024


def test_mixed_logits_are_exactly_u_plus_w_c_minus_u(model):
    """A guided batch [A, B, se] runs model rows [A, B, se, A_u, B_u]; the same five prefixes as plain
    rows, fed the same (forced) tokens, give the raw c and u; the guided sampler must see u + w (c - u)
    at every position of every frame (k = 0 holds the end-marker decision) and plain logits for se."""
    p = prefixes()
    a, b, se = p["text_to_sound"], p["audio_edit"], p["se"]
    a_u, b_u = drop_conditions(a, ["caption"], VOCAB), drop_conditions(b, ["instruction"], VOCAB)
    w = torch.tensor([[3.0], [0.25]])
    guided = [RowSpec(a, "audio", 0, 4, 1, uncond=a_u, cfg_scale=3.0), RowSpec(b, "audio", 0, 4, 2, uncond=b_u,
              cfg_scale=0.25), RowSpec(se, "audio", 0, 4, 3)]
    plain = [RowSpec(x, "audio", 0, 4, s) for x, s in ((a, 1), (b, 2), (se, 3), (a_u, 1), (b_u, 2))]
    mixed, raw = [], []
    out_g = generate(model, guided, SAMPLING, logits_hook=script_hook([codebook_token(o) for o in (0, 1, 2)], mixed),
                     compact=False)
    out_p = generate(model, plain, SAMPLING, compact=False,
                     logits_hook=script_hook([codebook_token(o) for o in (0, 1, 2, 0, 1)], raw))
    assert same(out_g, out_p[:3])  # the script drove both runs: same tokens, same caches
    assert len(mixed) == len(raw) == 5 * 3  # 4 content frames + the forced end frame, 3 positions each
    for m, r in zip(mixed, raw):
        c, u = r[:2], r[3:]
        assert torch.equal(m[:2], u + w * (c - u))
        assert torch.equal(m[2], r[2])
        assert not torch.equal(m[:2], c)  # guidance did change something


def test_guided_batch_equals_one_by_one_with_compaction(model):
    scales = {"text_to_sound": 3.0, "audio_edit": 0.5, "instruct_tts": 2.0}
    rs = rows(scales) + rows(scales, max_frames=(2, 12, 4, 2, 3), seed=1)  # compaction drops some guided rows
    together = generate(model, rs, SAMPLING)
    assert same(together, generate(model, rs, SAMPLING, compact=False))
    for r, got in zip(rs, together):
        assert same([got], generate(model, [r], SAMPLING))
    assert same(generate(model, rs[::-1], SAMPLING)[::-1], together)
    unguided = generate(model, rows({}) + rows({}, max_frames=(2, 12, 4, 2, 3), seed=1), SAMPLING)
    changed = [not np.array_equal(x.frames, y.frames) for x, y, r in zip(together, unguided, rs) if r.guided]
    assert sum(changed) >= 3  # w != 1 does change the samples of the random model


def test_unguided_rows_of_a_mixed_batch_are_unchanged(model):
    together = generate(model, rows({"text_to_sound": 4.0, "audio_edit": 4.0, "instruct_tts": 4.0}), SAMPLING)
    baseline = generate(model, rows({}), SAMPLING)
    for r, x, y in zip(rows({}), together, baseline):
        if r.prefix.task in ("se", "asr"):
            assert np.array_equal(x.frames, y.frames) and x.stop == y.stop


def test_bad_guided_rows_and_config_are_clear_errors(model):
    p = prefixes()
    with pytest.raises(ValueError, match="same task"):
        generate(model, [RowSpec(p["text_to_sound"], "audio", 1, 2, 0, uncond=p["se"], cfg_scale=2.0)], SAMPLING)
    with pytest.raises(ConfigError, match="cfg_task_scales.se"):
        load_config(GenerateConfig, overrides=["cfg_task_scales.se=2"])
    with pytest.raises(ConfigError, match="cfg_scale"):
        load_config(GenerateConfig, overrides=["cfg_scale=-1"])
    with pytest.raises(ConfigError, match="cfg_segments"):
        load_config(GenerateConfig, overrides=["cfg_segments={text_to_sound: [target]}"])
    cfg = load_config(GenerateConfig, overrides=["cfg_scale=3", "cfg_task_scales.text_to_music=5"])
    assert [cfg.cfg_scale_of(t) for t in ("text_to_sound", "text_to_music", "se")] == [3.0, 5.0, 1.0]


def test_generator_guides_text_tasks_only(assets, tmp_path, capsys):
    from gen_helpers import task_requests
    from uniaudio.cli import main as cli
    from uniaudio.generate.requests import parse_request
    from uniaudio.generate.runner import Generator, result_record

    cfg = GenerateConfig.model_validate({"lengths": {"max_seconds": 0.4, "min_seconds": 0.2}, "cfg_scale": 3.0})
    reqs = [parse_request(o) for o in task_requests(assets["wavs"], assets["midi"])
            if o["task"] in ("text_to_sound", "se", "instruct_tts")]
    with Generator(assets["model"], cfg) as gen:
        guided = gen.generate(reqs)
        gen.cfg.cfg_scale = 1.0
        plain = gen.generate(reqs)
    for g, p in zip(guided, plain):
        assert g.ok and p.ok and p.cfg_scale == 1.0 and "cfg_scale" not in result_record(p, "x", "m")
        if g.request.task == "se":
            assert g.cfg_scale == 1.0 and np.array_equal(g.codes, p.codes)
        else:
            assert g.cfg_scale == 3.0 and result_record(g, "x", "m")["cfg_scale"] == 3.0
            assert len(g.wav) == g.frames * 320
    out = tmp_path / "sound.wav"
    rc = cli(["generate", "--task", "text_to_sound", "--model", assets["model"], "--caption", "rain on a roof",
              "--cfg-scale", "2.5", "--max-seconds", "0.3", "--set", "lengths.min_seconds=0.1", "-o", str(out),
              "--results", str(tmp_path / "r.jsonl"), "--quiet"])
    assert rc == 0 and out.is_file()
    assert json.loads((tmp_path / "r.jsonl").read_text())["cfg_scale"] == 2.5
    assert "ended by" in capsys.readouterr().out


@pytest.mark.parametrize("lineage, warned", [
    ({}, ["text_to_music", "text_to_sound"]),  # an older model: no record either way
    ({"cond_dropout": 0.0, "cond_dropout_segments": {}}, ["text_to_music", "text_to_sound"]),
    ({"cond_dropout": 0.1, "cond_dropout_segments": {"text_to_sound": ["caption"]}}, ["text_to_music"]),
    ({"cond_dropout": 0.1, "cond_dropout_segments": {"text_to_sound": ["caption"], "text_to_music": ["caption"]}}, []),
])
def test_guidance_warns_when_the_model_never_saw_dropped_conditions(lineage, warned):
    from uniaudio.generate.config import GenerateConfig
    from uniaudio.generate.runner import guidance_warnings

    cfg = GenerateConfig(cfg_task_scales={"text_to_sound": 3.0, "text_to_music": 2.0})
    lines = guidance_warnings(cfg, lineage)
    assert [line.split(" for ")[1].split(":")[0] for line in lines] == warned
    assert guidance_warnings(GenerateConfig(), {}) == []  # unguided: nothing to warn about
