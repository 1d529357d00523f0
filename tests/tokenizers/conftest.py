"""Shared fixtures: real packaged speech (pocketsphinx-testdata, 16 kHz LibriVox clips + transcripts)."""

import re
from pathlib import Path

import pytest

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")


@pytest.fixture(scope="session")
def librivox() -> list[tuple[Path, str]]:
    """(wav path, transcript) for the 5 LibriVox utterances; the Debian package is in requirements/apt.txt."""
    trans = LIBRIVOX / "transcription"
    assert trans.is_file(), f"{trans} missing: install pocketsphinx-testdata (requirements/apt.txt)"
    out = []
    for line in trans.read_text().splitlines():
        m = re.match(r"<s> (.*) </s> \((\S+)\)", line.strip())
        if m:
            out.append((LIBRIVOX / f"{m.group(2)}.wav", m.group(1)))
    assert len(out) == 5
    return out


@pytest.fixture(scope="session")
def librivox_wavs(librivox):
    from uniaudio.audio import load_audio

    return [load_audio(str(p)) for p, _ in librivox]
