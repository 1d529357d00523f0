"""Generation tests: single-threaded, and one tiny trained model + codec + inputs per session."""

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))  # gen_helpers

from gen_helpers import export_tiny, fit_kmeans, make_codec, write_midi, write_wavs  # noqa: E402


@pytest.fixture(autouse=True)
def _threads():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def model():
    """A small random-weight LM (tiny preset, narrower) for decoder tests that need no training."""
    from uniaudio.model import ModelConfig, build_model, get_preset

    torch.manual_seed(0)
    base = get_preset("tiny").model_copy(update={"d_model": 48, "n_head": 4, "n_local_layer": 2})
    return build_model(ModelConfig(**base.model_dump())).eval()


@pytest.fixture(scope="session")
def assets(tmp_path_factory):
    """dict: model (export dir), codec, codec_hash, wavs (name -> path), midi, kmeans, losses."""
    root = tmp_path_factory.mktemp("gen_assets")
    torch.set_num_threads(1)
    wavs = write_wavs(root / "wavs")
    codec_dir, codec_hash = make_codec(root / "codec")
    kmeans = fit_kmeans([wavs["speech"], wavs["prompt"], wavs["noisy"]], root / "units.npz")
    model_dir, losses = export_tiny(root / "model", codec_dir, codec_hash, kmeans)
    return {"model": model_dir, "codec": codec_dir, "codec_hash": codec_hash, "wavs": wavs,
            "midi": write_midi(root / "tune.mid"), "kmeans": kmeans, "losses": losses, "root": root}
