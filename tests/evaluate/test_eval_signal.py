"""PESQ, STOI, SI-SNR, MCD and DNSMOS on known pairs of real speech."""

from __future__ import annotations

import numpy as np
import pytest
from eval_helpers import add_noise

from uniaudio.evaluate.dnsmos import dnsmos
from uniaudio.evaluate.mcd import dtw_path, mcd
from uniaudio.evaluate.signal_metrics import SI_SNR_CAP_DB, align, pesq_wb, si_snr, stoi


@pytest.fixture(scope="module")
def clean(speech_a):
    return speech_a[1]  # 3 s of LibriVox speech


def test_identical_audio_scores_perfectly(clean):
    assert pesq_wb(clean, clean) > 4.5
    assert stoi(clean, clean) == pytest.approx(1.0, abs=1e-6)
    assert si_snr(clean, clean) == SI_SNR_CAP_DB
    assert mcd(clean, clean) == 0.0


def test_more_noise_is_worse_on_every_metric(clean):
    mild, heavy = add_noise(clean, 20, seed=1), add_noise(clean, 0, seed=2)
    assert 4.5 > pesq_wb(mild, clean) > pesq_wb(heavy, clean) > 1.0
    assert 1.0 > stoi(mild, clean) > stoi(heavy, clean)
    assert si_snr(mild, clean) == pytest.approx(20, abs=0.5)
    assert si_snr(heavy, clean) == pytest.approx(0, abs=0.5)
    assert 0.0 < mcd(mild, clean) < mcd(heavy, clean)


def test_si_snr_is_scale_invariant_and_length_tolerant(clean):
    noisy = add_noise(clean, 10, seed=3)
    assert si_snr(0.25 * noisy, clean) == pytest.approx(si_snr(noisy, clean), abs=1e-6)
    # a generated signal a few samples longer (codec frames) is cut to the reference's length
    longer = np.concatenate([noisy, np.zeros(200, np.float32)])
    assert si_snr(longer, clean) == pytest.approx(si_snr(noisy, clean), abs=1e-6)
    with pytest.raises(ValueError, match="too short"):
        align(clean[:100], clean)


def test_pesq_without_speech_is_an_error_not_a_score(clean):
    with pytest.raises(ValueError, match="PESQ"):
        pesq_wb(np.zeros_like(clean), np.zeros_like(clean))


def test_mcd_dtw_tolerates_timing_but_not_content(speech_a, clean):
    # A copy starting 53 ms late (not a whole number of hops) aligns under DTW; another sentence of the
    # same speaker does not. Without alignment the shifted copy would score like unrelated speech.
    shifted = clean[850:]
    other = speech_a[2]
    assert mcd(shifted, clean) < 0.3 * mcd(other, clean)
    assert 2.0 < mcd(other, clean) < 15.0  # the usual MCD range for different sentences


def test_dtw_path_matches_brute_force():
    rng = np.random.default_rng(0)
    cost = rng.random((6, 9))
    acc = np.full(cost.shape, np.inf)
    for i in range(6):
        for j in range(9):
            prev = [acc[i - 1, j] if i else np.inf, acc[i, j - 1] if j else np.inf,
                    acc[i - 1, j - 1] if i and j else np.inf]
            acc[i, j] = cost[i, j] + (0.0 if i == j == 0 else min(prev))
    rows, cols = dtw_path(cost)
    assert (rows[0], cols[0], rows[-1], cols[-1]) == (0, 0, 5, 8)
    assert np.all(np.diff(rows) >= 0) and np.all(np.diff(cols) >= 0)
    assert cost[rows, cols].sum() == pytest.approx(acc[-1, -1])


def test_dnsmos_prefers_clean_speech(clean):
    scores = [dnsmos(x) for x in (clean, add_noise(clean, 20, seed=4), add_noise(clean, 0, seed=5))]
    assert set(scores[0]) == {"dnsmos_ovrl", "dnsmos_sig", "dnsmos_bak", "dnsmos_p808"}
    ovrl = [s["dnsmos_ovrl"] for s in scores]
    bak = [s["dnsmos_bak"] for s in scores]
    assert ovrl[0] > ovrl[1] > ovrl[2]
    assert bak[0] > bak[1] > bak[2]
    assert all(1.0 <= v <= 5.0 for s in scores for v in s.values())
    with pytest.raises(ValueError):
        dnsmos(np.zeros(16000, np.float32))


def test_mcd_refuses_pairs_too_long_for_dtw(clean, monkeypatch):
    import uniaudio.evaluate.mcd as mcd_mod

    monkeypatch.setattr(mcd_mod, "MAX_DTW_CELLS", 100 * 100)
    with pytest.raises(ValueError, match="too long for DTW"):
        mcd(clean, clean)
