"""``report.html`` (uniaudio/evaluate/report_page.py) written by ``uniaudio evaluate``, loaded in a real
headless Chromium: no console errors, one player per audio, every image renders, nothing from the network."""

from __future__ import annotations

import glob
import json
import re
from pathlib import Path

from PIL import Image

from uniaudio.audio import write_audio
from uniaudio.cli import main
from uniaudio.evaluate.headless import load, non_blank

SOUNDS = sorted(glob.glob("/usr/share/sounds/freedesktop/stereo/*.oga"))


def test_report_page_in_headless_chromium(tmp_path, librivox, speech_a):
    ids = sorted(librivox)
    gen = tmp_path / "gen"
    write_audio(gen / "tts_out.wav", speech_a[2])
    rows = [
        {"task": "tts", "id": "t1", "output": "tts_out.wav", "text": librivox[ids[2]][1],
         "prompt": librivox[ids[4]][0], "reference": librivox[ids[2]][0]},
        {"task": "text_to_sound", "id": "s1", "output": SOUNDS[0], "reference": SOUNDS[3],
         "caption": "a desktop <notification> sound"},
        {"task": "asr", "id": "a1", "output": "he was not an ill disposed young man", "text": librivox[ids[1]][1],
         "source": librivox[ids[1]][0]},
    ]
    results = gen / "results.jsonl"
    results.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "eval"
    assert main(["evaluate", str(results), "--out", str(out), "--metrics", "wer,mcd", "--no-mlflow"]) == 0
    page = out / "report.html"
    text = page.read_text()
    # self-contained: every src is relative and exists; nothing is fetched from anywhere
    srcs = re.findall(r'src="([^"]+)"', text)
    assert srcs and not [s for s in srcs if "://" in s or s.startswith("/")]
    assert all((out / s).is_file() for s in srcs)
    assert "&lt;notification&gt;" in text  # request text is escaped, not markup
    # 5 players for tts/asr inputs+outputs + 2 for the sound; each audio has one spectrogram image
    n_audio = text.count("<audio ")
    assert n_audio == len([s for s in srcs if s.endswith(".wav")]) == 6
    assert text.count('class="spec"') == n_audio

    shot = tmp_path / "page.png"
    res = load(page.as_uri(), screenshot=shot, size=(1280, 1800))
    assert not res.console, res.console  # no console errors (nor any other console output)
    assert res.dom.count("<audio") == n_audio and "wer" in res.dom
    assert non_blank(shot)
    # the spectrogram images decode and are not blank either
    for png in sorted((out / "report_files").glob("*.png")):
        assert non_blank(png, 16), png
    assert Image.open(shot).size == (1280, 1800)
