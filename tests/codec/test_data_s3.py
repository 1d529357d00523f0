"""Codec training audio named by object-store URIs (loopback S3 server): a prefix, a list of relative
entries, a dataset spec stored in the bucket; crops fetch each object once into the node's cache."""

from __future__ import annotations

import os

import numpy as np
import pytest

from codec.data import CropBatches, collect_items, index_items
from conftest_s3 import s3_bucket, s3_env, s3_server  # noqa: F401  (fixtures by name)
from uniaudio.audio import write_audio
from uniaudio.errors import UserFacingError
from uniaudio.stores import uri as uris


@pytest.fixture
def bucket_audio(s3_bucket, tmp_path):
    """Two 1 s tones and one corrupt file under ``<bucket>/corpus/wav/``."""
    for i, hz in enumerate((220.0, 330.0)):
        t = np.arange(16000) / 16000
        write_audio(tmp_path / f"t{i}.wav", (0.3 * np.sin(2 * np.pi * hz * t)).astype(np.float32))
        uris.put(f"{s3_bucket}/corpus/wav/t{i}.wav", (tmp_path / f"t{i}.wav").read_bytes())
    uris.put(f"{s3_bucket}/corpus/wav/bad.wav", b"RIFF not really a wav")
    uris.put(f"{s3_bucket}/corpus/wav/notes.md", "not audio")
    return s3_bucket


def test_a_prefix_lists_its_audio_objects(bucket_audio):
    items, skipped = collect_items(f"{bucket_audio}/corpus/wav")
    assert [it.uri for it in items] == [f"{bucket_audio}/corpus/wav/{n}" for n in ("bad.wav", "t0.wav", "t1.wav")]
    good, bad = index_items(items, 0.5)
    assert [g.uri.rsplit("/", 1)[1] for g in good] == ["t0.wav", "t1.wav"] and [b.reason for b in bad] == ["unreadable"]
    assert skipped == []


def test_a_list_in_the_bucket_resolves_relative_entries_against_its_prefix(bucket_audio):
    uris.put(f"{bucket_audio}/corpus/train.txt", "# two tones\nwav/t0.wav\n" + f"{bucket_audio}/corpus/wav/t1.wav\n")
    items, _ = collect_items(f"{bucket_audio}/corpus/train.txt")
    assert [it.uri for it in items] == [f"{bucket_audio}/corpus/wav/t0.wav", f"{bucket_audio}/corpus/wav/t1.wav"]


def test_a_spec_in_the_bucket_with_a_relative_root(bucket_audio):
    uris.put(f"{bucket_audio}/corpus/captions.csv", "audio,caption\nwav/t0.wav,a low tone\nwav/t1.wav,a high tone\n")
    uris.put(f"{bucket_audio}/specs/tones.yaml",
             "datasets:\n  - name: tones\n    reader: captions\n    root: ../corpus\n    tasks: [t2a]\n")
    items, skipped = collect_items(f"{bucket_audio}/specs/tones.yaml")
    assert [it.uri for it in items] == [f"{bucket_audio}/corpus/wav/t0.wav", f"{bucket_audio}/corpus/wav/t1.wav"]
    assert skipped == []


def test_missing_prefix_and_list_are_one_line_errors(s3_bucket):
    with pytest.raises(UserFacingError, match="no audio objects under this prefix"):
        collect_items(f"{s3_bucket}/nothing/here")
    with pytest.raises(UserFacingError, match="no such file or folder"):
        collect_items(f"{s3_bucket}/nothing.txt")


def test_crops_fetch_each_object_once_into_the_cache(bucket_audio, s3_env):
    good, _ = index_items(collect_items(f"{bucket_audio}/corpus/wav")[0], 0.5)
    ds = CropBatches(good, batch_size=16, crop_min_s=0.2, crop_max_s=0.2, seed=0)
    a = ds[0]["wav"]  # 16 crops: both files drawn, each fetched once
    cached = [p for p in (os.path.join(r, f) for r, _, fs in os.walk(s3_env["UNIAUDIO_CACHE_DIR"]) for f in fs)
              if p.endswith(".wav")]
    assert sorted(os.path.basename(p) for p in cached) == ["t0.wav", "t1.wav"]
    assert set(ds._local) == {g.uri for g in good}
    local = CropBatches([type(g)(ds._local[g.uri], g.start_s, g.end_s, g.duration_s) for g in good],
                        batch_size=16, crop_min_s=0.2, crop_max_s=0.2, seed=0)
    assert np.array_equal(a.numpy(), local[0]["wav"].numpy())  # same crops as from local copies
