"""Parameter counts (1B preset on the meta device, analytic == built), configs, FLOP accounting."""

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from model_helpers import small_config
from uniaudio.config import ConfigError, load_config
from uniaudio.errors import UserFacingError
from uniaudio.model import PRESETS, ModelConfig, build_model, count_params, flops_per_frame, get_preset, params_by_part
from uniaudio.model.flops import six_n_flops_per_frame, train_flops_per_frame

REFERENCE_1B = 935.9e6  # UNIAUDIO.md §4.2: the recipe config counted at the recipe's V = 4212


def test_1b_preset_on_meta_device_is_about_one_billion():
    """Ours: 1.018 B at V = 23552. The reference's 0.936 B is at V = 4212. Our vocabulary adds
    (23552 - 4212) ids to the local embedding and the head (2 x 19340 x 1536 = 59.4 M) and, with the
    summed frame embedding, a full-width global table (23552 x 1536 = 36.2 M instead of 4212 x 512 =
    2.2 M); RoPE drops the 8000 x 1536 = 12.3 M position table, the broadcast link uses a d x d
    Linear (+1.6 M) and the continuous input is MiniLM-wide (384 instead of 768: -0.6 M)."""
    model = build_model(get_preset("uniaudio-1b"), "meta")
    parts = params_by_part(model)
    print({k: f"{v / 1e6:.2f}M" for k, v in parts.items()})
    assert all(p.device.type == "meta" for p in model.parameters())
    assert 0.90e9 <= parts["total"] <= 1.05e9
    assert parts["global"] == pytest.approx(679.96e6, rel=1e-3)  # 24 blocks of 12 d^2 + 13 d, + final LN
    # decomposition of the difference from the reference, term by term (see the docstring)
    d, V, Vref = 1536, 23552, 4212
    expected = REFERENCE_1B + 2 * (V - Vref) * d + (V * d - Vref * d // 3) - 8000 * d + (d * d - d // 3 * d) \
        - (768 - 384) * d + 32 * d  # + the k bias the reference lacks (32 blocks)
    assert parts["total"] == pytest.approx(expected, rel=1e-4)


def test_reference_shaped_1b_reproduces_the_reference_count():
    """The reference's choices (concat, chunked link, learned positions, T5 width) at its V = 4212."""
    counted = count_params(get_preset("uniaudio-1b-ref"), vocab_size=4212)["total"]
    assert counted == pytest.approx(REFERENCE_1B, rel=2e-4)
    v1 = get_preset("uniaudio-1b-ref").model_copy(update={"d_model": 768, "n_layer": 16, "n_head": 12})
    assert count_params(v1, vocab_size=4212)["total"] == pytest.approx(184.6e6, rel=2e-3)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_analytic_count_equals_built_module(name):
    assert params_by_part(build_model(get_preset(name), "meta")) == count_params(get_preset(name))


@pytest.mark.parametrize("override", [{"frame_embedding": "concat"}, {"global_to_local": "chunk"},
                                      {"positions": "learned", "max_frames": 64}, {"bias": False}, {"n_q": 4}])
def test_analytic_count_options(override):
    cfg = small_config(**override)
    assert params_by_part(build_model(cfg, "meta")) == count_params(cfg)


@pytest.mark.parametrize(
    "overrides, field",
    [(["n_head=5"], "n_head"), (["n_q=0"], "n_q"), (["n_q=17"], "n_q"), (["frame_embedding=stack"], "frame_embedding"),
     (["dropout=1.5"], "dropout"), (["n_q=5", "frame_embedding=concat"], "n_q"), (["unknown_key=1"], "unknown_key")],
)
def test_bad_config_is_a_clear_error(overrides, field):
    with pytest.raises(ConfigError, match=field):
        load_config(ModelConfig, overrides=overrides, base=get_preset("tiny"))


def test_unknown_preset():
    with pytest.raises(UserFacingError, match="uniaudio-1b"):
        get_preset("huge")


def test_linear_flops_match_torch_flop_counter():
    """The matmul FLOPs a forward pass really executes equal our formula minus its attention terms
    (torch's counter does not see CPU SDPA), exactly."""
    cfg = small_config(n_q=3)
    model = build_model(cfg).eval()
    t = 16
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.randint(256, 1280, (1, t, 3)))
    f = flops_per_frame(cfg, context=t)
    attention = cfg.n_layer * 4 * t * cfg.d_model + cfg.n_local_layer * 4 * cfg.d_model * 3 * 4 / 2
    assert counter.get_total_flops() == pytest.approx(t * (f["total"] - attention), rel=1e-9)


def test_flops_1b_and_six_n_overcount():
    cfg = get_preset("uniaudio-1b")
    f = flops_per_frame(cfg, context=1000)
    # linear parts as in UNIAUDIO.md §4.2: 2 (680 M + 3 x 227 M) ~ 2.7 GFLOP per frame
    assert f["global"] + f["local"] == pytest.approx(2.72e9 + 24 * 4 * 1000 * 1536 + 8 * 4 * 1536 * 6, rel=0.01)
    ratio = six_n_flops_per_frame(cfg) / train_flops_per_frame(cfg, seq_len=2000)
    assert 1.8 < ratio < 2.2
