"""The example builder on a synthetic token store (the session's Ray, no codec): every task's layout, prompts from
another utterance of the same speaker, speech-edit masks, SV trials, determinism, the stable split,
and incremental rebuilds."""

import json

import numpy as np
import pyarrow as pa
import pytest

from uniaudio.stores import delta
from pipelines.examples import ExamplesConfig, run_examples
from pipelines.examples.choices import split_of
from uniaudio.stores.schema import example_store_schema, pack_f16, token_store_schema
from uniaudio.cli import main
from uniaudio.tasks import TASKS, get_task
from uniaudio.tokenizers.inventory import load_inventory
from uniaudio.vocab import load_vocab

V = load_vocab()
BAR = load_inventory("phones_v1.json").id("|")


def token_row(dataset, utt, tasks, frames, speaker=None, seed=0, **cols):
    rng = np.random.default_rng(seed)
    row = {f.name: None for f in token_store_schema(3)}
    row.update(dataset=dataset, utt_id=utt, fingerprint=f"fp-{utt}-{seed}", tokenizer_version="tok-test",
               source_uri=f"/audio/{utt}.wav", duration_s=frames / 50, n_frames=frames, speaker=speaker, tasks=tasks,
               **{f"codes_{k}": rng.integers(0, 1024, frames).tolist() for k in range(3)})
    for role in ("source", "enrolment"):
        if cols.pop(role, False):
            n = frames if role == "source" else 200
            row.update({f"{role}_n_frames": n, f"{role}_audio_uri": f"/audio/{utt}.{role}.wav",
                        **{f"{role}_codes_{k}": rng.integers(0, 1024, n).tolist() for k in range(3)}})
    row.update(cols)
    return row


def emb(n, seed):
    blob, dim = pack_f16(np.random.default_rng(seed).standard_normal((n, 384)))
    return blob, dim


def phones(n_words):
    out = []
    for w in range(n_words):
        out += ([BAR] if out else []) + [10 + w, 20 + w, 30 + w]
    return out


def synthetic_store(uri, seed=0):
    speech = ["tts", "plain_tts", "vc", "asr", "sv", "speech_edit"]
    rows = []
    for i in range(6):  # two speakers x 3 utterances; utterances of 120..320 frames
        n_words, dur = 3 + i % 3, (120 + 40 * i) / 50
        edges = np.linspace(0.1, dur - 0.1, n_words + 1)  # the tokenizer's word alignment (pipelines.alignment)
        times = [[round(float(a), 3), round(float(b), 3)] for a, b in zip(edges[:-1], edges[1:])]
        rows.append(token_row("speech", f"s{i}", speech, 120 + 40 * i, speaker=f"spk{i % 2}", seed=seed * 100 + i,
                              phones=phones(n_words), semantic=list(range(120 + 40 * i)),
                              text_ids=list(b"hello there"), text="hello there",
                              extra_json=json.dumps({"word_times": times})))
    rows.append(token_row("speech", "lonely", ["tts"], 100, speaker="spk9", seed=7, phones=phones(2)))
    rows.append(token_row("sing", "g0", ["svs"], 90, speaker="singer", sing_phone=[3] * 90, sing_midi=[60] * 90))
    rows.append(token_row("sing", "g1", ["svs"], 95, speaker="singer", seed=1, sing_phone=[4] * 95, sing_midi=[62] * 95))
    cap, dim = emb(6, 1)
    inst, _ = emb(9, 2)
    rows.append(token_row("sfx", "x0", ["text_to_sound"], 80, caption_emb=cap, caption_emb_dim=dim))
    rows.append(token_row("music", "m0", ["text_to_music"], 80, caption_emb=cap, caption_emb_dim=dim))
    rows.append(token_row("pairs", "se0", ["se"], 90, source=True))
    rows.append(token_row("pairs", "dr0", ["dereverb"], 90, source=True))
    rows.append(token_row("pairs", "ae0", ["audio_edit"], 90, source=True, instruction_emb=inst, instruction_emb_dim=dim))
    rows.append(token_row("pairs", "ts0", ["tse"], 90, source=True, enrolment=True, speaker="p"))
    rows.append(token_row("styled", "it0", ["instruct_tts"], 90, phones=phones(4), instruction_emb=inst,
                          instruction_emb_dim=dim))
    rows.append(token_row("edits", "ed0", ["speech_edit"], 150, phones=phones(5),
                          extra_json=json.dumps({"edit_span": {"start_frame": 40, "end_frame": 70}})))
    delta.append(uri, pa.Table.from_pylist(rows, schema=token_store_schema(3)), ["dataset"])
    return {r["utt_id"]: r for r in rows}


def codes_of(row, prefix=""):
    return np.stack([row[f"{prefix}codes_{k}"] for k in range(3)], axis=1)


def frames_of(ex):
    return np.asarray(ex["frames"], dtype=np.int64).reshape(ex["n_frames"], ex["n_q"])


def segment(ex, modality):
    """Content frames of the first segment with ``modality`` (between its start and end markers)."""
    f = frames_of(ex)[:, 0]
    a = int(np.nonzero(f == V.start_of(modality))[0][0]) + 1
    b = a + int(np.nonzero(f[a:] == V.end_of(modality))[0][0])
    return frames_of(ex)[a:b]


def no_mlflow(**kw):
    return ExamplesConfig(mlflow={"enabled": False}, **kw)


@pytest.fixture(scope="module")
def built(tmp_path_factory, ray_session):
    """One distributed build of the synthetic store, shared by the tests that only read it."""
    root = tmp_path_factory.mktemp("built")
    tokens, out = str(root / "tokens"), str(root / "examples")
    rows = synthetic_store(tokens)
    s = run_examples(tokens, out, no_mlflow(valid_fraction=0.3))
    return tokens, out, rows, s, {e["example_id"]: e for e in delta.read_table(out).to_pylist()}


def test_every_task_layout_and_lineage(built):
    tokens, out, rows, s, ex = built
    assert {e["task"] for e in ex.values()} == set(TASKS)
    assert s.skipped == {"tts/no_prompt": 1} and s.total("built") == len(ex) == 6 * 6 + 2 + 8
    for e in ex.values():
        f = frames_of(e)[:, 0]
        tmpl = get_task(e["task"])
        assert f[0] == V.start and f[1] == V.task_id(e["task"]) and f[-1] == V.end
        assert f[e["prefix_len"] - 1] == V.start_of(tmpl.target.modality)  # loss span = [prefix_len, n_frames)
        assert e["tokens_version"] == delta.table_version(tokens) and e["vocab_hash"] == V.content_hash
        assert e["split"] == split_of(e["dataset"], e["utt_ids"][0], 0.3)
        if tmpl.target.modality == "audio":  # the target is the row's own codes
            assert np.array_equal(V.codec_to_local(frames_of(e)[e["prefix_len"]:-2]), codes_of(rows[e["utt_ids"][0]]))
    assert {e["split"] for e in ex.values()} == {"train", "valid"}
    # an utterance is in one split for every task
    for u in ("s0", "s1", "s2"):
        assert len({e["split"] for e in ex.values() if e["utt_ids"][0] == u}) == 1
    cap = ex["text_to_sound/sfx/x0"]
    assert cap["cont_dim"] == 384 and len(cap["cont_positions"]) == 6
    from uniaudio.stores.lineage import read_lineage

    lin = read_lineage(out)
    assert lin["tokens_uri"] == tokens and lin["examples_version"] == delta.table_version(out)


def test_prompts_come_from_another_utterance_of_the_speaker(built):
    _, _, rows, _, ex = built
    for e in ex.values():
        if e["task"] not in ("tts", "vc", "svs"):
            continue
        target, prompt_utt = e["utt_ids"]
        assert prompt_utt != target and rows[prompt_utt]["speaker"] == rows[target]["speaker"]
        prompt = V.codec_to_local(segment(e, "audio_prompt"))
        src = codes_of(rows[prompt_utt])
        assert len(prompt) == min(150, len(src))
        assert any(np.array_equal(prompt, src[i : i + len(prompt)]) for i in range(len(src) - len(prompt) + 1))
    tse = ex["tse/pairs/ts0"]  # the recorded enrolment, cropped to 3 s; the mixture as source
    assert np.array_equal(V.codec_to_local(segment(tse, "audio")), codes_of(rows["ts0"], "source_"))
    enrol = V.codec_to_local(segment(tse, "audio_prompt"))
    full = codes_of(rows["ts0"], "enrolment_")
    assert len(enrol) == 150 and any(np.array_equal(enrol, full[i : i + 150]) for i in range(51))


def test_speech_edit_masks_a_span_and_sv_has_both_labels(built):
    _, _, rows, _, ex = built
    aligned = ex["speech_edit/edits/ed0"]
    src = frames_of(aligned)[np.nonzero(frames_of(aligned)[:, 0] == V.start_of("audio"))[0][0] + 1:][:150]
    masked = np.nonzero((src == V.mask).all(1))[0]
    assert masked.tolist() == list(range(40, 70))  # the simulator's aligned span
    assert np.array_equal(V.codec_to_local(np.delete(src, masked, 0)), np.delete(codes_of(rows["ed0"]), masked, 0))
    for u in ("s0", "s1", "s2", "s3"):  # spans from the word alignment: 1-2 whole words, on word boundaries
        e = ex[f"speech_edit/speech/{u}"]
        f = frames_of(e)
        start = np.nonzero(f[:, 0] == V.start_of("audio"))[0][0] + 1
        masked = np.nonzero((f[start : start + rows[u]["n_frames"]] == V.mask).all(1))[0]
        assert 0 < len(masked) < rows[u]["n_frames"] and np.all(np.diff(masked) == 1)
        times = json.loads(rows[u]["extra_json"])["word_times"]
        starts, ends = {int(np.floor(a * 50 + 1e-9)) for a, _ in times}, {int(np.ceil(b * 50 - 1e-9)) for _, b in times}
        assert masked[0] in starts and masked[-1] + 1 in ends
    labels = {}
    for e in ex.values():
        if e["task"] == "sv":
            label = int(V.to_local("label", frames_of(e)[e["prefix_len"], 0]))
            a, b = e["utt_ids"]
            labels[a] = label
            assert label == int(rows[a]["speaker"] == rows[b]["speaker"]) and a != b
            assert len(segment(e, "audio")) == min(150, rows[a]["n_frames"])
    assert set(labels.values()) == {0, 1}


def test_deterministic_and_incremental(built, tmp_path):
    _, _, _, _, ex = built
    tokens, out = str(tmp_path / "tokens"), str(tmp_path / "examples")
    synthetic_store(tokens)  # the same rows as the shared store's
    first = run_examples(tokens, out, no_mlflow(valid_fraction=0.3, chunk_rows=10))
    ex2 = {e["example_id"]: e for e in delta.read_table(out).to_pylist()}
    assert first.total("built") == len(ex) and first.commits == -(-len(ex) // 10)  # chunk_rows per commit
    sizes = [int(h["operationMetrics"].get("num_added_rows", 0)) for h in delta.commit_history(out)
             if h.get("uniaudio.job") == "examples"]
    assert sorted(sizes) == sorted([10] * (len(ex) // 10) + [len(ex) % 10])
    for k, e in ex.items():  # same inputs + seed -> the same examples, bit for bit
        assert e["frames"] == ex2[k]["frames"] and e["fingerprint"] == ex2[k]["fingerprint"]

    assert run_examples(tokens, out, no_mlflow(valid_fraction=0.3)).total("built") == 0  # unchanged: nothing

    # s1 re-tokenized (new fingerprint): its own examples and those using it as a prompt are rebuilt
    new = token_row("speech", "s1", ["tts", "plain_tts", "vc", "asr", "sv", "speech_edit"], 200, speaker="spk1",
                    seed=42, phones=phones(4), semantic=list(range(200)), text_ids=list(b"hi"), text="hi",
                    extra_json=json.dumps({"word_times": [[0.1, 1.0], [1.0, 2.0], [2.0, 3.0], [3.0, 3.9]]}))
    assert delta.delete_rows(tokens, "fingerprint", ["fp-s1-1"], {"dataset": "speech"}) == 1
    delta.append(tokens, pa.Table.from_pylist([new], schema=token_store_schema(3)), ["dataset"])
    users = {k for k, e in ex.items() if "s1" in e["utt_ids"]}
    s = run_examples(tokens, out, no_mlflow(valid_fraction=0.3))
    assert s.total("built") == s.total("pruned") == len(users) and s.total("unchanged") == len(ex) - len(users)
    after = {e["example_id"]: e for e in delta.read_table(out).to_pylist()}
    assert set(after) == set(ex)
    for k in set(ex) - users:
        assert after[k]["fingerprint"] == ex[k]["fingerprint"] and after[k]["tokens_version"] == ex[k]["tokens_version"]
    assert all(after[k]["tokens_version"] == delta.table_version(tokens) for k in users)

    # restricting to some tasks builds/prunes only those
    only = run_examples(tokens, out, no_mlflow(valid_fraction=0.3, seed=1, tasks=["asr"]))
    assert set(only.per_task) == {"asr"} and only.total("pruned") == 6
    assert len(delta.read_table(out).to_pylist()) == len(ex)


def test_cli(tmp_path, capsys, ray_session):
    tokens, out = str(tmp_path / "t"), str(tmp_path / "e")
    synthetic_store(tokens)
    assert main(["examples", "--tokens", tokens, "--out", out, "--tasks", "asr,se", "--set", "mlflow.enabled=false"]) == 0
    text = capsys.readouterr().out
    assert "asr: built 6" in text and "se: built 1" in text and "MLflow run id" in text
    assert main(["examples", "--tokens", tokens, "--out", out, "--tasks", "nope"]) == 2
    assert main(["examples", "--tokens", str(tmp_path / "none"), "--out", out]) == 2
    assert set(delta.read_table(out).schema.names) == set(example_store_schema().names)
