"""Mandarin corpora in their native layouts (OpenCpop, M4Singer, AISHELL-3): small fixtures written here
with synthesized audio are read, tokenized (pinyin phones, aligned singing frames) and built into
examples, without Ray; the dataset spec's ``language`` routes the G2P."""

import json

import numpy as np
import pytest

from pipelines.examples.choices import DatasetChoices
from pipelines.examples.config import ExamplesConfig
from pipelines.examples.example import build_example
from pipelines.sources import DatasetEntry, read_dataset
from pipelines.tokenize.columns import manifest_to_carrier
from pipelines.tokenize.decode import AudioCheckConfig, decode_row
from pipelines.tokenize.modalities import tokenize_rows
from uniaudio.audio import write_audio
from uniaudio.tokenizers import ByteTextTokenizer, PhoneTokenizer, TokenizersConfig
from uniaudio.tokenizers.inventory import load_inventory
from uniaudio.vocab import load_vocab

SR = 16000
SING = load_inventory("sing_phones_v1.json")
PHONES = load_inventory("phones_v1.json")


def sung(durations, pitches, seed=0):
    """A synthesized 'voice': one sine per phone at its note's pitch (silence on rests), plus a little noise."""
    rng = np.random.default_rng(seed)
    parts = []
    for d, p in zip(durations, pitches):
        n = int(round(d * SR))
        t = np.arange(n) / SR
        hz = 0.0 if p in (0, "rest") else 440.0 * 2 ** ((p - 69) / 12 if isinstance(p, int) else 0)
        parts.append(0.3 * np.sin(2 * np.pi * hz * t) if hz else np.zeros(n))
    x = np.concatenate(parts)
    return (x + 0.005 * rng.standard_normal(x.size)).astype("float32")


OPENCPOP = [  # id, text, phones, notes, phone durations (s), slurs
    ("2001000001", "你好", "SP n i h ao AP", "rest A4 A4 C5 C5 rest", [0.2, 0.1, 0.4, 0.1, 0.5, 0.2], "0 0 0 0 0 0"),
    ("2001000002", "我爱", "w o ai ai SP", "G4 G4 A4 B4 rest", [0.1, 0.3, 0.3, 0.3, 0.2], "0 0 0 1 0"),
]


def write_opencpop(root):
    seg = root / "segments"
    (seg / "wavs").mkdir(parents=True)
    lines = []
    for utt, text, ph, notes, durs, slurs in OPENCPOP:
        write_audio(seg / "wavs" / f"{utt}.wav", sung(durs, [0] * len(durs)), SR)
        nd = " ".join(f"{d:.6f}" for d in durs)
        lines.append("|".join([utt, text, ph, notes, nd, " ".join(f"{d:.6f}" for d in durs), slurs]))
    lines.append("2001000003|坏|h uai|A4|0.5 0.5|0.5|0")  # phones vs durations mismatch
    lines.append("2001000004|没有|m ei|A4 A4|0.5 0.5|0.5 0.5|0 0")  # no wav
    (seg / "transcriptions.txt").write_text("\n".join(lines) + "\n", "utf-8")
    return root


M4 = [
    {"item_name": "Alto-1#xiao_xing_xing#0000", "txt": "星星", "phs": ["<SP>", "x", "ing", "x", "ing", "<AP>"],
     "ph_dur": [0.1, 0.1, 0.5, 0.1, 0.5, 0.2], "notes": [0, 60, 60, 67, 67, 0], "notes_dur": [0.1, 0.6, 0.6, 0.6, 0.6, 0.2],
     "is_slur": [0, 0, 0, 0, 0, 0]},
    {"item_name": "Tenor-2#xiao_xing_xing#0001", "txt": "亮", "phs": ["l", "iang", "iang"], "ph_dur": [0.1, 0.5, 0.4],
     "notes": [57, 57, 59], "notes_dur": [0.6, 0.6, 0.4], "is_slur": [0, 0, 1]},
    {"item_name": "Tenor-2#bad#0002", "txt": "坏", "phs": ["h", "uai"], "ph_dur": [0.5]},  # fields missing
]


def write_m4singer(root):
    root.mkdir(parents=True)
    for it in M4[:2]:
        singer, song, sent = it["item_name"].split("#")
        (root / f"{singer}#{song}").mkdir(exist_ok=True)
        write_audio(root / f"{singer}#{song}" / f"{sent}.wav", sung(it["ph_dur"], it["notes"]), SR)
    (root / "meta.json").write_text(json.dumps(M4, ensure_ascii=False), "utf-8")
    return root


AISHELL = [
    ("SSB00050001", "广 guang3 州 zhou1 女 nv3 大 da4 学 xue2 生 sheng1"),
    ("SSB00050002", "长 zhang3 大 da4 了 le5"),  # 长 annotated zhang3 (G2P alone might say chang2)
    ("SSB00110001", "你 ni3 好 hao3 世 shi4 界 jie4"),
]


def write_aishell3(root):
    for split in ("train",):
        for utt, _ in AISHELL:
            (root / split / "wav" / utt[:7]).mkdir(parents=True, exist_ok=True)
            write_audio(root / split / "wav" / utt[:7] / f"{utt}.wav", sung([1.2], [60], seed=int(utt[-2:])), SR)
        lines = [f"{utt}.wav\t{rest}" for utt, rest in AISHELL]
        lines += ["SSB00119999.wav\t坏 huai4", "SSB00110002.wav\t你 ni 好"]  # no wav; untoned / unpaired
        (root / split / "content.txt").write_text("\n".join(lines) + "\n", "utf-8")
    return root


def tokenized(entry, tasks):
    res = read_dataset(entry)
    cfg = json.dumps(TokenizersConfig(text_emb={"enabled": False}).to_dict())
    rows = [decode_row(manifest_to_carrier(r, tasks), AudioCheckConfig(min_s=0.1)) for r in res.rows]
    return res, tokenize_rows(rows, cfg)


def with_codes(rows, n_q=3):
    rng = np.random.default_rng(0)
    for r in rows:
        r["n_frames"] = -(-len(r["wav"]) // 320)
        for k in range(n_q):
            r[f"codes_{k}"] = rng.integers(0, 1024, r["n_frames"]).tolist()
    return rows


def examples(dataset, rows, task):
    cfg = ExamplesConfig(mlflow={"enabled": False})
    metas = [{**r, "phones": None if r.get("phones") is None else list(r["phones"])} for r in rows]
    ch = DatasetChoices(dataset, metas, cfg)
    by_id = {r["utt_id"]: r for r in rows}
    choices = [ch.choose(task, u) for u in sorted(by_id)]
    skipped = {c.utt_id: c.skip for c in choices if c.skip}
    return [build_example(c, "fp", by_id, load_vocab(), cfg, 0) for c in choices if not c.skip], skipped


def test_pinyin_phones_are_tone_marked_and_in_the_inventory():
    tok = PhoneTokenizer()
    seq = tok.tokenize("今天天气很好，我们去公园散步。", language="zh")
    finals = [s for s in seq.symbols if s[-1:].isdigit()]
    assert len(finals) == 13 and all(s[-1] in "12345" for s in finals)  # one toned final per character
    assert [s for s in seq.symbols if s != "|"][:4] == ["j-", "in1", "t-", "ian1"] and "<sil>" in seq.symbols and seq.n_unk == 0
    assert all(PHONES.decode([i])[0] == s for i, s in zip(seq.ids, seq.symbols))
    assert tok.tokenize("ni3 hao3", language="cmn").symbols == ("n-", "i3", "|", "h-", "ao3")  # annotated pinyin
    with pytest.raises(Exception, match="no Mandarin syllable"):
        tok.tokenize("hello", language="zh")


def test_opencpop_reads_native_layout_tokenizes_aligned_frames_and_builds_svs(tmp_path):
    root = write_opencpop(tmp_path / "opencpop")
    entry = DatasetEntry(name="opencpop", reader="opencpop", root=str(root), tasks=["svs"], language="zh")
    res, rows = tokenized(entry, ["svs"])
    assert [r.utt_id for r in res.rows] == ["2001000001", "2001000002"]
    assert sorted(p.code for p in res.problems) == ["malformed_line", "missing_audio"]
    assert res.rows[0].extra["language"] == "zh" and res.rows[0].lyrics == "你好"
    r = rows[0]
    assert r.get("q_reason") is None
    phones = SING.decode(r["sing_phone"])
    # annotated timing: SP 0.2 s = 10 frames, n 0.1 s = 5, i 0.4 s = 20, h 5, ao 25, AP 10
    assert phones[:10] == ["SP"] * 10 and phones[10:15] == ["n"] * 5 and phones[15:35] == ["i"] * 20
    assert phones[40:65] == ["ao"] * 25 and phones[65:75] == ["AP"] * 10
    midi = list(r["sing_midi"])
    assert midi[:10] == [128] * 10 and midi[10:35] == [69] * 25 and midi[35:65] == [72] * 30 and midi[65:] == [128] * 10
    assert list(rows[1]["sing_midi"][20:35]) == [69] * 15 and list(rows[1]["sing_midi"][35:50]) == [71] * 15  # slur onto B4
    for row in rows:  # one singer: the prompt comes from the other utterance
        row["speaker"] = "opencpop"
    exs, skipped = examples("opencpop", with_codes(rows), "svs")
    assert len(exs) == 2 and not skipped and all(e["task"] == "svs" and e["n_frames"] > 75 for e in exs)


def test_m4singer_reads_meta_json_singers_and_slurs(tmp_path):
    root = write_m4singer(tmp_path / "m4")
    entry = DatasetEntry(name="m4", reader="m4singer", root=str(root), tasks=["svs"])
    res, rows = tokenized(entry, ["svs"])
    assert [(r.utt_id, r.speaker) for r in res.rows] == [("Alto-1#xiao_xing_xing#0000", "Alto-1"),
                                                        ("Tenor-2#xiao_xing_xing#0001", "Tenor-2")]
    assert [p.code for p in res.problems] == ["malformed_line"]
    a, b = rows
    assert SING.decode(a["sing_phone"])[:5] == ["SP"] * 5 and SING.decode(a["sing_phone"])[5:10] == ["x"] * 5
    assert list(a["sing_midi"][5:30]) == [60] * 25 and list(a["sing_midi"][40:65]) == [67] * 25
    assert SING.decode(a["sing_phone"])[65:75] == ["AP"] * 10 and a["sing_midi"][-1] == 128
    assert list(b["sing_midi"][5:30]) == [57] * 25 and list(b["sing_midi"][30:50]) == [59] * 20
    assert all(0 not in row["sing_phone"] for row in rows)  # every phone known (no <unk>)


def test_aishell3_uses_annotated_pinyin_and_builds_tts_examples(tmp_path):
    root = write_aishell3(tmp_path / "aishell3")
    entry = DatasetEntry(name="ai3", reader="aishell3", root=str(root), tasks=["tts", "asr"], language="zh")
    res, rows = tokenized(entry, ["tts", "asr"])
    assert [(r.utt_id, r.speaker, r.text) for r in res.rows][:2] == [("SSB00050001", "SSB0005", "广州女大学生"),
                                                                     ("SSB00050002", "SSB0005", "长大了")]
    assert sorted(p.code for p in res.problems) == ["malformed_line", "missing_audio"]
    syms = [PHONES.decode(r["phones"]) for r in rows]
    assert syms[0][:5] == ["g-", "uang3", "|", "zh-", "ou1"] and "v3" in syms[0]
    assert syms[1][:2] == ["zh-", "ang3"] and syms[1][-1] == "e5"  # annotation read, neutral tone 5
    assert ByteTextTokenizer().decode(rows[0]["text_ids"]) == "广州女大学生"  # ASR target: the characters
    exs, skipped = examples("ai3", with_codes(rows), "tts")  # SSB0005 has two utterances: a prompt for each
    assert [e["utt_ids"] for e in exs] == [["SSB00050001", "SSB00050002"], ["SSB00050002", "SSB00050001"]]
    assert skipped == {"SSB00110001": "no_prompt"} and all(e["n_frames"] > 60 for e in exs)


def test_spec_language_stamps_rows_and_routes_generic_readers(tmp_path):
    (tmp_path / "d").mkdir()
    write_audio(tmp_path / "d" / "a.wav", sung([1.0], [60]), SR)
    (tmp_path / "d" / "manifest.jsonl").write_text(json.dumps({"utt_id": "a", "audio": "a.wav", "text": "北京欢迎你"}) + "\n")
    plain = read_dataset(DatasetEntry(name="d", reader="manifest", root=str(tmp_path / "d"), tasks=["plain_tts"]))
    zh = read_dataset(DatasetEntry(name="d", reader="manifest", root=str(tmp_path / "d"), tasks=["plain_tts"], language="zh"))
    assert "language" not in plain.rows[0].extra and zh.rows[0].extra["language"] == "zh"
    assert zh.rows[0].fingerprint != plain.rows[0].fingerprint  # a language change re-tokenizes the dataset
    _, rows = tokenized(DatasetEntry(name="d", reader="manifest", root=str(tmp_path / "d"), tasks=["plain_tts"],
                                     language="zh"), ["plain_tts"])
    assert PHONES.decode(rows[0]["phones"])[:2] == ["b-", "ei3"]


def test_reader_and_language_doctests():
    import doctest
    import importlib

    for name in ("pipelines.sources.language", "pipelines.sources.registry"):
        res = doctest.testmod(importlib.import_module(name))
        assert res.failed == 0 and res.attempted > 0, name


def test_mandarin_lyrics_on_a_score_and_han_script_without_a_language():
    from uniaudio.tokenizers import SingInput, SingTokenizer
    from uniaudio.tokenizers.score import Note

    notes = [Note(0.0, 0.4, 60, True), Note(0.4, 0.8, 62, True), Note(0.8, 1.2, 64, True)]
    seq = SingTokenizer().tokenize(SingInput(notes=notes, lyrics="我爱你", language="zh"))
    sung = [p for p in SING.decode(seq.phone_ids) if p != "SP"]
    assert dict.fromkeys(sung).keys() == {"w": 0, "o": 0, "ai": 0, "n": 0, "i": 0}.keys() and seq.n_syllables == 3
    assert list(seq.midi_ids[:20]) == [60] * 20 and list(seq.midi_ids[40:60]) == [64] * 20
    # a generation request carries no language: Han characters are read as Mandarin
    assert PhoneTokenizer().tokenize("你好").symbols == ("n-", "i3", "h-", "ao3")
    hello = SingTokenizer().tokenize(SingInput(notes=notes[:2], lyrics="你好"))
    assert not hello.unk and [p for p in dict.fromkeys(SING.decode(hello.phone_ids)) if p != "SP"] == ["n", "i", "h", "ao"]
