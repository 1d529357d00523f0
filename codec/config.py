"""Codec settings: model shape, residual VQ, discriminator, loss weights and training recipe.

Presets: ``paper`` (the published 16 kHz model and recipe: channels 32->512, D=128, 12 codebooks x
1024, 6 MFD scales, spec loss weights), ``default`` and ``gpu`` (the same model trained with recipe 2:
multi-scale mel + waveform L1, MPD + multi-band STFT discriminators, quantizer dropout; ``gpu`` has a
larger batch), ``tiny`` (narrow, 4 codebooks, recipe 2, trains in minutes on a CPU) and ``tiny_paper``
(the tiny model with the published recipe; ``benchmarks/codec_learning.py`` compares the two).
Every preset keeps the encoder strides (2, 4, 5, 8): hop 320 samples, 50 frames/s at 16 kHz.

>>> cfg = preset("tiny")
>>> cfg.model.hop_length, cfg.model.frame_rate, cfg.quantizer.n_q
(320, 50, 4)
>>> load_config(CodecConfig, overrides=["quantizer.n_q=2"], base=preset("tiny")).train.bandwidth_n_q
[1, 2]
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, field_validator, model_validator

from uniaudio.config import ConfigBase, load_config

SAMPLE_RATE = 16_000
HOP_LENGTH = 320
#: codebook ids must stay below this: the LM vocabulary reserves 1024 ids per codebook.
MAX_CODEBOOK_SIZE = 1024
#: n_q values drawn per step by bandwidth dropout (0.5, 1, 1.5, 2, 4, 6 kbps at 50 frames/s).
BANDWIDTH_N_Q = (1, 2, 3, 4, 8, 12)

__all__ = ["CodecConfig", "ModelConfig", "QuantizerConfig", "DiscriminatorConfig", "LossConfig",
           "TrainConfig", "PRESETS", "preset", "load_config"]


class ModelConfig(ConfigBase):
    """SEANet encoder/decoder (non-causal, weight-normed convs, reflect padding, ELU, 2-layer LSTM)."""

    sample_rate: Literal[16000] = SAMPLE_RATE
    channels: int = Field(32, ge=1, description="width of the first conv; doubles at every stride")
    strides: list[int] = Field(default_factory=lambda: [2, 4, 5, 8], description="encoder order")
    dimension: int = Field(128, ge=1, description="latent (and codebook vector) size D")
    lstm_layers: int = Field(2, ge=0)
    kernel_size: int = Field(7, ge=1)
    last_kernel_size: int = Field(7, ge=1)
    residual_kernel_size: int = Field(3, ge=1)
    compress: int = Field(2, ge=1, description="channel reduction inside residual blocks")
    weight_norm: bool = True
    end_padding: Literal["zeros", "reflect"] = Field(
        "zeros", description="how the encoder completes the last frame: zeros to whole frames (this project), "
        "or each conv's reflect padding extended to whole frames (the published SoundStream; codec/published.py)")

    @field_validator("strides")
    @classmethod
    def _hop_is_320(cls, v: list[int]) -> list[int]:
        if not v or any(s < 1 for s in v) or math.prod(v) != HOP_LENGTH:
            raise ValueError(f"strides must be positive and multiply to {HOP_LENGTH} (50 frames/s at 16 kHz)")
        return v

    @property
    def hop_length(self) -> int:
        return math.prod(self.strides)

    @property
    def frame_rate(self) -> int:
        return self.sample_rate // self.hop_length


class QuantizerConfig(ConfigBase):
    """Residual VQ: ``euclidean`` (published: EMA codebooks in D dims, k-means init, dead-code restart)
    or ``factorized`` (DAC: gradient-learned codebooks in ``code_dim`` dims, cosine lookups, see
    :mod:`codec.factorized_vq`; decay/epsilon/k-means fields do not apply)."""

    kind: Literal["euclidean", "factorized"] = "euclidean"
    code_dim: int = Field(8, ge=1, le=1024, description="factorized: dimensions of the codebook space")

    n_q: int = Field(12, ge=1, le=32, description="maximum number of codebooks")
    codebook_size: int = Field(1024, ge=2, le=MAX_CODEBOOK_SIZE)
    decay: float = Field(0.99, gt=0.0, lt=1.0)
    epsilon: float = Field(1e-5, gt=0.0)
    kmeans_iters: int = Field(50, ge=0, description="0 = initialise codes from random frames")
    kmeans_max_frames: int = Field(10_000, ge=1, description="frames gathered over all ranks for k-means")
    dead_threshold: float = Field(2.0, ge=0.0, description="EMA usage (frames) below which a code is restarted")
    dead_fraction: float = Field(0.0, ge=0.0, lt=1.0, description=(
        "> 0: restart codes whose EMA usage is below this fraction of the mean usage (independent of the "
        "frames per step); 0: use dead_threshold (published)"))
    commitment_weight: float = Field(1.0, ge=0.0)


class DiscriminatorConfig(ConfigBase):
    """Which discriminators judge the output (``kinds``) and their shapes.

    ``mfd``: multi-frequency (published; one 2-D CNN per STFT resolution, window = n_fft = 4 x hop,
    ``hops``/``hidden``); ``mpd``: multi-period on the folded waveform (``mpd_periods``/``mpd_channels``);
    ``mrd``: multi-band complex-STFT (``mrd_windows``/``mrd_channels``)."""

    kinds: list[Literal["mfd", "mpd", "mrd"]] = Field(default_factory=lambda: ["mfd"])
    hops: list[int] = Field(default_factory=lambda: [32, 64, 128, 256, 512, 1024])
    hidden: list[int] = Field(default_factory=lambda: [64, 128, 256, 512, 512, 512])
    domain: Literal["double", "linear", "log"] = "double"
    mel_warp: bool = True
    mpd_periods: list[int] = Field(default_factory=lambda: [2, 3, 5, 7, 11])
    mpd_channels: list[int] = Field(default_factory=lambda: [32, 128, 512, 1024])
    mrd_windows: list[int] = Field(default_factory=lambda: [1024, 512, 256])
    mrd_channels: int = Field(32, ge=1)
    segment_s: float = Field(0.0, ge=0.0, le=30.0, description="judge this many seconds of each crop (0 = all)")

    @model_validator(mode="after")
    def _same_len(self) -> "DiscriminatorConfig":
        if len(self.hops) != len(self.hidden) or not self.hops:
            raise ValueError("disc.hops and disc.hidden need the same, non-zero length")
        if not self.kinds or len(set(self.kinds)) != len(self.kinds):
            raise ValueError("disc.kinds needs at least one discriminator, each at most once")
        if any(p < 1 for p in self.mpd_periods) or any(c < 1 for c in self.mpd_channels) or not self.mpd_channels:
            raise ValueError("disc.mpd_periods and disc.mpd_channels must be positive (and channels non-empty)")
        if not self.mrd_windows or any(w < 16 for w in self.mrd_windows):
            raise ValueError("disc.mrd_windows needs windows of at least 16 samples")
        return self


class LossConfig(ConfigBase):
    """Generator loss weights (spec §1.3). The spec disables the mel loss (weight 0 here).

    ``multi_mel`` (DAC: log-mel L1 at every window in ``multi_mel_windows``) and ``waveform`` (EnCodec:
    L1 on the samples) are off in the published recipe and on in ours (presets ``tiny``/``default``/``gpu``)."""

    adversarial: float = Field(1.0, ge=0.0)
    feature_matching: float = Field(20.0, ge=0.0)
    multi_resolution_stft: float = Field(1.0, ge=0.0)
    subband_stft: float = Field(1.0, ge=0.0)
    mel: float = Field(0.0, ge=0.0)
    commitment: float = Field(1.0, ge=0.0)
    stft_fft_sizes: list[int] = Field(default_factory=lambda: [512, 1024, 2048])
    stft_win_lengths: list[int] = Field(default_factory=lambda: [480, 960, 1200])
    stft_hop_lengths: list[int] = Field(default_factory=lambda: [120, 240, 300])
    subbands: int = Field(6, ge=2)
    subband_fft_sizes: list[int] = Field(default_factory=lambda: [128, 256, 256])
    subband_win_lengths: list[int] = Field(default_factory=lambda: [80, 120, 200])
    subband_hop_lengths: list[int] = Field(default_factory=lambda: [20, 40, 50])
    mel_bins: int = Field(80, ge=1)
    mel_fft: int = Field(1024, ge=1)
    mel_hop: int = Field(160, ge=1)
    mel_win: int = Field(800, ge=1)
    multi_mel: float = Field(0.0, ge=0.0)
    multi_mel_windows: list[int] = Field(default_factory=lambda: [32, 64, 128, 256, 512, 1024, 2048])
    multi_mel_bins: list[int] = Field(default_factory=lambda: [5, 10, 20, 40, 80, 160, 320])
    waveform: float = Field(0.0, ge=0.0)


class TrainConfig(ConfigBase):
    """Recipe: step-based LR schedule, crops, checkpoints, validation."""

    steps: int = Field(200_000, ge=1)
    batch_size: int = Field(8, ge=1, description="per worker")
    crop_min_s: float = Field(1.0, gt=0.0)
    crop_max_s: float = Field(3.0, gt=0.0)
    min_audio_s: float = Field(0.5, ge=0.0, description="shorter files are skipped (counted, warned)")
    audio_norm_scale: float = Field(0.95, gt=0.0, le=1.0)
    lr: float = Field(2e-4, gt=0.0)
    betas: tuple[float, float] = (0.8, 0.99)
    eps: float = Field(1e-6, gt=0.0)
    weight_decay: float = Field(0.0, ge=0.0)
    warmup_steps: int = Field(0, ge=0)
    lr_gamma: float = Field(0.999, gt=0.0, le=1.0, description="LR x gamma every lr_decay_every steps")
    lr_decay_every: int = Field(1000, ge=1)
    grad_clip: float = Field(0.0, ge=0.0, description="0 = no clipping")
    disc_start_step: int = Field(0, ge=0, description="GAN losses start at this step")
    bandwidth_n_q: list[int] = Field(default_factory=lambda: list(BANDWIDTH_N_Q))
    quantizer_dropout: float = Field(1.0, ge=0.0, le=1.0,
                                     description="share of steps that draw n_q from bandwidth_n_q; the rest use all")
    seed: int = Field(2333, ge=0)
    log_every: int = Field(50, ge=1)
    ckpt_every: int = Field(5000, ge=1)
    keep_checkpoints: int = Field(3, ge=1)
    max_failures: int = Field(2, ge=0)  # worker-group restarts (from the last checkpoint) before the run fails
    val_every: int = Field(5000, ge=1)
    val_files: int = Field(8, ge=0)
    val_max_s: float = Field(6.0, gt=0.0)
    val_n_q: list[int] = Field(default_factory=lambda: [1, 2, 3, 12])
    val_asr: bool = Field(True, description="log val/wer_q3 (Whisper, CPU): resynthesis vs original transcript")
    sample_artifacts: int = Field(2, ge=0, description="validation items saved as wav + spectrogram PNG")
    loader_workers: int = Field(0, ge=0)
    threads_per_worker: int = Field(1, ge=1)


class CodecConfig(ConfigBase):
    model: ModelConfig = ModelConfig()
    quantizer: QuantizerConfig = QuantizerConfig()
    disc: DiscriminatorConfig = DiscriminatorConfig()
    loss: LossConfig = LossConfig()
    train: TrainConfig = TrainConfig()

    def dead_code_warning(self, world_size: int = 1) -> str | None:
        """Why an absolute ``quantizer.dead_threshold`` will restart nearly every code at every step, or None.

        A code's EMA usage settles near the frames one step sees (all ranks) / codebook size; below the
        threshold it is restarted, so a threshold above that mean makes the codebooks the last batch's
        frames. ``dead_fraction`` (recipe 2) is relative to the mean usage and never does this.

        >>> preset("paper").dead_code_warning(world_size=1) is not None   # 8 x 2 s at 50 Hz: 0.78 per code
        True
        >>> preset("paper").dead_code_warning(world_size=8) is None, preset("tiny").dead_code_warning() is None
        (True, True)
        """
        q, t = self.quantizer, self.train
        if q.kind != "euclidean" or q.dead_fraction > 0:
            return None
        frames = t.batch_size * world_size * (t.crop_min_s + t.crop_max_s) / 2 * self.model.frame_rate
        mean_usage = frames / q.codebook_size
        if q.dead_threshold <= mean_usage:
            return None
        return (f"quantizer.dead_threshold={q.dead_threshold:g} is above the mean code usage per step "
                f"({frames:.0f} frames / {q.codebook_size} codes = {mean_usage:.2f}): nearly every code will be "
                "restarted at every step; set quantizer.dead_fraction (e.g. 0.05) or a larger batch")

    @model_validator(mode="after")
    def _consistent(self) -> "CodecConfig":
        n_q = self.quantizer.n_q
        # bandwidth dropout and validation can only use codebooks the model has: cap, keep order, dedupe.
        for name in ("bandwidth_n_q", "val_n_q"):
            vals = getattr(self.train, name)
            capped = list(dict.fromkeys(min(v, n_q) for v in vals if v >= 1))
            if not capped:
                raise ValueError(f"train.{name} needs at least one value >= 1")
            if capped != vals:
                setattr(self.train, name, capped)  # validated assignment
        if self.train.crop_min_s > self.train.crop_max_s:
            raise ValueError("train.crop_min_s must not exceed train.crop_max_s")
        return self


def _tiny_model() -> dict:
    """The tiny architecture and schedule (shared by ``tiny`` and ``tiny_paper``: only the recipe differs)."""
    return dict(
        model=ModelConfig(channels=8, dimension=32, lstm_layers=2),
        quantizer=QuantizerConfig(n_q=4, kmeans_iters=10, kmeans_max_frames=2000),
        train=TrainConfig(
            batch_size=4, crop_min_s=1.0, crop_max_s=1.5, lr=1e-3, warmup_steps=0, disc_start_step=0,
            log_every=10, ckpt_every=100, val_every=100, val_files=4, val_max_s=3.0,
            bandwidth_n_q=[1, 2, 3, 4], val_n_q=[1, 2, 3, 4], sample_artifacts=1,
        ),
    )


def _recipe2(cfg: CodecConfig, **loss) -> CodecConfig:
    """Recipe 2 (DAC/EnCodec-style) applied to ``cfg``: multi-scale log-mel L1 + waveform L1 + MPD/MRD
    adversarial and feature matching, no single-resolution / sub-band STFT losses, quantizer dropout 0.5,
    dead codes judged relative to the mean usage (the published absolute threshold of 2 frames restarts
    nearly every code at every step when a step sees fewer than ~2 frames per code: docs/CODEC.md).
    ``loss`` overrides fields of the recipe's loss weights."""
    cfg.train.quantizer_dropout = 0.5
    cfg.quantizer.dead_fraction = 0.05
    base = dict(mel=0.0, multi_resolution_stft=0.0, subband_stft=0.0, multi_mel=15.0, waveform=2.0,
                feature_matching=4.0, adversarial=1.0)
    cfg.loss = LossConfig(**{**base, **loss})
    return cfg


# ~30 CPU-minutes of reconstruction-only steps on one core (0.16 CPU-s each): past the CPU runs of the demo,
# the tests and codec_learning.py's 20-minute budget; a longer run then trains adversarially
TINY_DISC_START_STEP = 10_000
# waveform L1 weight of the tiny recipe (recipe 2's is 2.0, drowned by the mel terms' 15 at CPU budgets: _tiny)
TINY_WAVEFORM_WEIGHT = 60.0


def _tiny() -> CodecConfig:
    """Recipe 2 at the tiny size: narrow MPD/MRD, a 3-scale mel loss (64, 256, 1024-sample windows) and
    0.5-0.8 s crops (DAC trains on 0.38 s): a step costs ~0.3 CPU-s instead of ~0.45 with 1-1.5 s crops and
    5 mel scales, at about the same learning per CPU-second (docs/CODEC_LOG.md, run 3): what
    a fixed-step run such as the demo's needs.

    The discriminators start at step :data:`TINY_DISC_START_STEP`: their update and the generator's pass
    through them are half of the step, and at CPU budgets the reconstruction losses alone learn more per
    CPU-second (20 CPU-min: mel 1.154 vs 1.352, STFT 2.141 vs 2.320, STOI 0.667 vs 0.564; docs/CODEC_LOG.md run 10).
    The waveform L1 weight is :data:`TINY_WAVEFORM_WEIGHT`, 30x recipe 2's: the phase is learned within CPU
    budgets (20 CPU-min: SI-SNR -2.0 vs -39.3 dB, mel 1.073 vs 1.159, WER 0.82 vs 1.0; docs/CODEC.md run 12)."""
    kw = _tiny_model()
    kw["train"].crop_min_s, kw["train"].crop_max_s = 0.5, 0.8
    kw["train"].disc_start_step = TINY_DISC_START_STEP
    disc = DiscriminatorConfig(kinds=["mpd", "mrd"], mpd_periods=[2, 3, 5, 7, 11], mpd_channels=[8, 16, 32, 32],
                               mrd_windows=[256], mrd_channels=8, segment_s=0.25)
    return _recipe2(CodecConfig(disc=disc, **kw), multi_mel_windows=[64, 256, 1024], multi_mel_bins=[10, 40, 80],
                    waveform=TINY_WAVEFORM_WEIGHT)


def _tiny_paper() -> CodecConfig:
    """Recipe 1 (published: MFD only, spec loss weights, mel 0) at the tiny size, for comparisons."""
    return CodecConfig(disc=DiscriminatorConfig(hops=[32, 64, 128, 256], hidden=[32, 32, 64, 64]), **_tiny_model())


def _default() -> CodecConfig:
    """Recipe 2 at the published model size (the CPU default of ``codec train``)."""
    return _recipe2(CodecConfig(disc=DiscriminatorConfig(kinds=["mpd", "mrd"])))


def _gpu() -> CodecConfig:
    """Recipe 2 at the published size with a GPU-sized batch."""
    cfg = _default()
    cfg.train.batch_size = 16
    return cfg


PRESETS = {"default": _default, "tiny": _tiny, "paper": CodecConfig, "tiny_paper": _tiny_paper, "gpu": _gpu}


def preset(name: str) -> CodecConfig:
    """A fresh config for a named preset (one of :data:`PRESETS`)."""
    from uniaudio.config import ConfigError

    if name not in PRESETS:
        raise ConfigError(f"unknown codec preset {name!r}; choose one of {', '.join(PRESETS)}")
    return PRESETS[name]()
