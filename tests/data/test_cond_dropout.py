"""Condition dropout (CFG training): the unconditional example, on sequences and stored rows, and in the
training loader (train only, deterministic, exact resume, token budget on the shorter length)."""

from dataclasses import replace

import numpy as np
import pyarrow as pa
import pytest

from uniaudio.stores import delta
from uniaudio.stores.schema import example_store_schema, pack_f16
from uniaudio.conditioning_dropout import (
    DEFAULT_DROP_SEGMENTS,
    condition_spans,
    drop_conditions,
    drop_row,
    dropout_draw,
)
from uniaudio.config import ConfigError, load_config
from uniaudio.data.batch import sequence_from_row
from uniaudio.data.loader import BatchLoader, LoaderConfig, StoreSnapshot
from uniaudio.sequence import build_sequence
from uniaudio.tasks import TASKS
from uniaudio.vocab import CODEC_MODALITIES, load_vocab

V = load_vocab()


def segment(modality, n, rng, dim=16):
    if modality in CODEC_MODALITIES:
        return rng.integers(0, 1024, (n, 3))
    if V.is_continuous(modality):
        return rng.standard_normal((n, dim)).astype(np.float32)
    return rng.integers(0, min(V.range(modality).size, 100), n)


def example(task, seed, lengths=None):
    rng = np.random.default_rng(seed)
    return {s.name: segment(s.modality, (lengths or {}).get(s.name, int(rng.integers(2, 7))), rng)
            for s in TASKS[task].segments}


def to_row(seq, example_id="e0", split="train"):
    blob, dim = pack_f16(seq.cont_values) if len(seq.cont_positions) else (None, None)
    return dict(task=seq.task, dataset="d", example_id=example_id, split=split, n_q=3, n_frames=seq.num_frames,
                prefix_len=seq.prefix_len, frames=seq.frames.reshape(-1).tolist(),
                cont_positions=seq.cont_positions.tolist() or None, cont_values=blob, cont_dim=dim,
                utt_ids=["u"], fingerprint="f", vocab_hash=V.content_hash, tokens_version=0)


# the CFG defaults, plus other conditions (audio ones build_sequence accepts empty; a discrete one
# next to a continuous one, whose placeholders must shift)
CASES = [(t, tuple(s)) for t, s in DEFAULT_DROP_SEGMENTS.items()] + [
    ("audio_edit", ("source",)), ("audio_edit", ("instruction", "source")), ("tts", ("prompt",)),
    ("tse", ("enrolment",)), ("instruct_tts", ("phone",)), ("svs", ("sing_phone", "sing_midi")),
]


@pytest.mark.parametrize("task,names", CASES, ids=lambda x: x if isinstance(x, str) else "+".join(x))
def test_dropped_sequence(task, names):
    ex = example(task, seed=len(task))
    seq = build_sequence(task, ex, V)
    un = drop_conditions(seq, names, V)
    tmpl = TASKS[task]
    # exactly the named contents are gone; every marker stays (an empty segment between them)
    keep = np.ones(seq.num_frames, dtype=bool)
    for n in names:
        a, b = seq.spans[n]
        keep[a:b] = False
        ua, ub = un.spans[n]
        assert ua == ub
        mod = tmpl.condition(n).modality
        assert (un.frames[ua - 1] == V.start_of(mod)).all() and (un.frames[ua] == V.end_of(mod)).all()
    assert np.array_equal(un.frames, seq.frames[keep])
    assert un.prefix_len == seq.prefix_len - int((~keep).sum())
    # loss targets identical
    assert np.array_equal(un.frames[un.prefix_len:], seq.frames[seq.prefix_len:])
    assert np.array_equal(un.loss_mask, np.arange(un.num_frames) >= un.prefix_len)
    # continuous payload: the kept segments' placeholders, moved with their frames
    assert (un.frames[un.cont_positions] == V.continuous).all()
    kept_vals = [ex[s.name] for s in tmpl.conditions if V.is_continuous(s.modality) and s.name not in names]
    want = np.concatenate(kept_vals) if kept_vals else np.zeros((0, seq.cont_values.shape[1]), np.float32)
    assert np.array_equal(un.cont_values, want)
    # the markers alone locate the segments (what stored rows and generation prefixes rely on)
    assert condition_spans(task, un.frames, V, un.prefix_len) == {k: v for k, v in un.spans.items() if k != "target"}
    # the invariant that stands for "build_sequence with that condition empty": the result does not
    # depend on the dropped content or its length; and where build_sequence accepts an empty segment
    # (audio), it is exactly that
    other = dict(ex, **{n: segment(tmpl.condition(n).modality, 9, np.random.default_rng(5)) for n in names})
    assert np.array_equal(drop_conditions(build_sequence(task, other, V), names, V).frames, un.frames)
    if all(tmpl.condition(n).modality in CODEC_MODALITIES for n in names):
        empty = build_sequence(task, dict(ex, **{n: np.zeros((0, 3), int) for n in names}), V)
        assert np.array_equal(empty.frames, un.frames) and empty.prefix_len == un.prefix_len
        assert np.array_equal(empty.cont_positions, un.cont_positions)
    # generation's unconditional prefix == the training example's prefix; dropping again changes nothing
    prefix = drop_conditions(build_sequence(task, ex, V, with_target=False), names, V)
    assert np.array_equal(prefix.frames, un.frames[: un.prefix_len]) and prefix.prefix_len == un.prefix_len
    assert np.array_equal(drop_conditions(un, names, V).frames, un.frames)
    # inputs untouched
    assert np.array_equal(seq.frames, build_sequence(task, ex, V).frames)


@pytest.mark.parametrize("task,names", CASES[:4] + [("instruct_tts", ("phone",))])
def test_dropped_store_row(task, names):
    seq = build_sequence(task, example(task, seed=3), V)
    row = to_row(seq, "x1")
    out = drop_row(row, names, V)
    got = sequence_from_row(out)
    want = drop_conditions(sequence_from_row(row), names, V)
    assert out["n_frames"] == len(out["frames"]) // 3 and out["example_id"] == "x1"
    assert np.array_equal(got.frames, want.frames) and got.prefix_len == want.prefix_len
    assert np.array_equal(got.cont_positions, want.cont_positions)
    if len(want.cont_positions):
        assert np.array_equal(got.cont_values, want.cont_values)  # the float16 bytes are copied, not re-rounded
    else:  # the example builder's convention for "no continuous frames"
        assert out["cont_positions"] is None and out["cont_values"] is None and out["cont_dim"] is None
    table = pa.Table.from_pylist([out], schema=example_store_schema())  # still a valid store row
    assert table.num_rows == 1


def test_bad_input_is_a_clear_error():
    seq = build_sequence("text_to_sound", example("text_to_sound", 0), V)
    with pytest.raises(ValueError, match="not condition segments"):
        drop_conditions(seq, ["target"], V)
    with pytest.raises(ValueError, match="not condition segments"):
        drop_conditions(seq, ["phone"], V)
    wrong_task = build_sequence("se", example("se", 0), V)
    with pytest.raises(ValueError, match="task:text_to_sound"):
        drop_conditions(replace(wrong_task, task="text_to_sound"), ["caption"], V)
    broken = seq.frames.copy()
    broken[seq.spans["caption"][1]] = V.continuous  # the caption's end marker lost
    with pytest.raises(ValueError, match="end marker"):
        condition_spans("text_to_sound", broken, V)
    with pytest.raises(ValueError, match="prefix_len"):
        condition_spans("text_to_sound", seq.frames, V, prefix_len=seq.prefix_len + 1)
    row = to_row(seq)
    with pytest.raises(ValueError, match="multiple of n_q"):
        drop_row(dict(row, frames=row["frames"][:-1]), ["caption"], V)


def test_draw_is_a_pure_function():
    a = [dropout_draw(0, 0, f"e{i}") for i in range(2000)]
    assert a == [dropout_draw(0, 0, f"e{i}") for i in range(2000)]
    assert all(0.0 <= x < 1.0 for x in a) and abs(np.mean(a) - 0.5) < 0.03
    assert a != [dropout_draw(1, 0, f"e{i}") for i in range(2000)]  # seed, epoch and copy all matter
    assert a != [dropout_draw(0, 1, f"e{i}") for i in range(2000)]
    assert a != [dropout_draw(0, 0, f"e{i}", copy=1) for i in range(2000)]


def test_config_fields():
    cfg = load_config(LoaderConfig, overrides=["cond_dropout=0.1"])
    assert cfg.cond_dropout == 0.1 and cfg.cond_dropout_segments["text_to_music"] == ["caption"]
    with pytest.raises(ConfigError, match="cond_dropout"):
        load_config(LoaderConfig, overrides=["cond_dropout=1.5"])
    with pytest.raises(ConfigError, match="cond_dropout_segments"):
        load_config(LoaderConfig, overrides=["cond_dropout_segments={tts: [target]}"])
    with pytest.raises(ConfigError, match="unknown task"):
        load_config(LoaderConfig, overrides=["cond_dropout_segments={nope: [caption]}"])
    from uniaudio.train.config import TrainConfig  # `uniaudio train --set loader.cond_dropout=0.1`

    assert load_config(TrainConfig, overrides=["loader.cond_dropout=0.1"]).loader.cond_dropout == 0.1


# --- the loader ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    uri = str(tmp_path_factory.mktemp("cfg") / "examples")
    rows = []
    for i in range(36):
        task = "text_to_sound" if i % 2 else "se"
        ex = example(task, seed=100 + i, lengths={"target": 4 + i % 9, "source": 4 + i % 9, "caption": 6})
        rows.append(to_row(build_sequence(task, ex, V), f"{task}-{i}", "valid" if i % 9 == 0 else "train"))
    for part in (rows[:18], rows[18:]):
        delta.append(uri, pa.Table.from_pylist(part, schema=example_store_schema()), ["task"])
    return uri


def epoch(snap, cfg, split="train", n=1):
    return [b for b in BatchLoader(snap, cfg, split, epochs=n, cont_dim=16)]


def rows_by_id(batches):
    """example id (+ occurrence) -> (frames, prefix_len, cont positions) of that row in its batch."""
    out = {}
    for b in batches:
        m = b.model
        for i, ex in enumerate(b.example_ids):
            n = int(m.lengths[i])
            key = ex if ex not in out else ex + "#2"
            out[key] = (m.frames[i, :n].numpy(), int(m.prefix_lens[i]), m.cont_values[i, :n].abs().sum(-1).numpy())
    return out


def test_loader_drops_train_conditions_only(store):
    snap = StoreSnapshot.open(store)
    base = LoaderConfig(reader="arrow", max_frames_per_batch=60, buffer_size=64, seed=3)
    plain = rows_by_id(epoch(snap, base))
    half_batches = epoch(snap, base.model_copy(update={"cond_dropout": 0.5}))
    half = rows_by_id(half_batches)
    assert half.keys() == plain.keys()
    dropped = 0
    for ex, (frames, prefix, cont) in half.items():
        f0, p0, c0 = plain[ex]
        assert np.array_equal(frames[prefix:], f0[p0:])  # loss targets identical
        if ex.startswith("se") or len(frames) == len(f0):
            assert np.array_equal(frames, f0) and np.array_equal(cont, c0)
            continue
        dropped += 1
        assert len(frames) == len(f0) - 6 and prefix == p0 - 6 and not (cont > 0).any()
        assert not (frames == V.continuous).any()
    n_tts = sum(ex.startswith("text_to_sound") for ex in half)
    assert 0 < dropped < n_tts  # about half (16 examples: a fixed, seeded outcome)
    # the token budget is applied to the shorter lengths
    for b in half_batches:
        assert b.model.frames.shape[0] * b.model.frames.shape[1] <= 60 or b.model.frames.shape[0] == 1
    # every example, every time: all captions gone; validation never dropped
    assert all(not (f == V.continuous).any() for f, _, _ in rows_by_id(
        epoch(snap, base.model_copy(update={"cond_dropout": 1.0}))).values())
    val_full = rows_by_id(epoch(snap, base.model_copy(update={"cond_dropout": 1.0}), split="valid"))
    val_plain = rows_by_id(epoch(snap, base, split="valid"))
    assert all(np.array_equal(val_full[k][0], val_plain[k][0]) for k in val_plain)
    assert any((f == V.continuous).any() for f, _, _ in val_full.values())


def test_loader_dropout_is_deterministic_and_resumes_exactly(store):
    snap = StoreSnapshot.open(store)
    cfg = LoaderConfig(reader="arrow", max_frames_per_batch=60, buffer_size=16, seed=11, cond_dropout=0.5)

    def take(loader, n):
        it = iter(loader)
        return [next(it) for _ in range(n)]

    def sig(batches):
        return [(b.example_ids, b.model.frames.numpy().tobytes()) for b in batches]

    ref = take(BatchLoader(snap, cfg, cont_dim=16), 30)  # crosses an epoch boundary
    assert sig(take(BatchLoader(snap, cfg, cont_dim=16), 30)) == sig(ref)
    first = BatchLoader(snap, cfg, cont_dim=16)
    head = take(first, 13)
    resumed = BatchLoader(snap, cfg, cont_dim=16)
    resumed.load_state_dict(first.state_dict())
    assert sig(head + take(resumed, 17)) == sig(ref)
    # each epoch draws again: the dropped set changes between epochs
    loader = BatchLoader(snap, cfg, cont_dim=16, epochs=2)
    per_epoch: list[set] = [set(), set()]
    for b in loader:
        for i, ex in enumerate(b.example_ids):
            if ex.startswith("text_to_sound") and not (b.model.frames[i] == V.continuous).any():
                per_epoch[loader.epoch].add(ex)
    assert per_epoch[0] and per_epoch[1] and per_epoch[0] != per_epoch[1]
    assert loader.dropped == len(per_epoch[0]) + len(per_epoch[1])


def test_resampled_copies_draw_separately(store):
    """A task weight of 2 emits every example twice per epoch: each copy gets its own draw."""
    snap = StoreSnapshot.open(store)
    cfg = LoaderConfig(reader="arrow", max_frames_per_batch=60, seed=5, cond_dropout=0.5,
                       task_weights={"text_to_sound": 2.0, "se": 0.0})
    state: dict[str, list[bool]] = {}
    for b in epoch(snap, cfg):
        for i, ex in enumerate(b.example_ids):
            state.setdefault(ex, []).append(not bool((b.model.frames[i] == V.continuous).any()))
    assert all(len(v) == 2 for v in state.values())
    assert any(v[0] != v[1] for v in state.values())  # one copy with the caption, one without


def test_module_doctest():
    import doctest

    import uniaudio.conditioning_dropout as mod

    result = doctest.testmod(mod)
    assert result.attempted > 0 and result.failed == 0


def test_loader_names_a_row_that_breaks_its_template(tmp_path):
    seq = build_sequence("text_to_sound", example("text_to_sound", 1), V)
    frames = seq.frames.copy()
    frames[seq.spans["caption"][1]] = V.continuous  # the caption's end marker lost
    row = to_row(replace(seq, frames=frames), "broken-1")
    uri = str(tmp_path / "bad")
    delta.append(uri, pa.Table.from_pylist([row], schema=example_store_schema()), ["task"])
    cfg = LoaderConfig(reader="arrow", cond_dropout=1.0)
    with pytest.raises(ValueError, match="example broken-1: cannot drop"):
        epoch(StoreSnapshot.open(uri), cfg)
    assert len(epoch(StoreSnapshot.open(uri), cfg.model_copy(update={"cond_dropout": 0.0}))) == 1
