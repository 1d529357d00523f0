"""Audio for the evaluation tests: real speech that Debian packages ship, plus synthesized voices.

- Speaker A: LibriVox "Sense and Sensibility" reader (pocketsphinx-testdata, 16 kHz, with transcripts).
- Speaker B: the Asterisk prompts voice (asterisk-core-sounds-en-wav, 8 kHz, resampled to 16 kHz).
- Speaker C: flite's ``slt`` voice, synthesized per session (exact text known).
Noise is seeded white Gaussian noise at a given SNR. Evaluator models load once per process (they are
module globals), so session fixtures only warm them up.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from uniaudio.audio import load_audio, write_audio

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")
ASTERISK = Path("/usr/share/asterisk/sounds/en")
SR = 16000


def _require(path: Path, package: str) -> None:
    if not path.exists():
        pytest.fail(f"{path} missing: install the Debian package {package} (requirements/apt.txt)")


@pytest.fixture(scope="session")
def librivox() -> dict[str, tuple[str, str]]:
    """utterance id -> (wav path, transcript) for the five LibriVox clips of one speaker."""
    _require(LIBRIVOX / "transcription", "pocketsphinx-testdata")
    out = {}
    for line in (LIBRIVOX / "transcription").read_text().splitlines():
        m = re.match(r"<s>\s*(.*?)\s*</s>\s*\((\S+)\)", line.strip())
        if m:
            out[m.group(2)] = (str(LIBRIVOX / f"{m.group(2)}.wav"), m.group(1))
    assert len(out) == 5, out
    return out


@pytest.fixture(scope="session")
def speech_a(librivox) -> list[np.ndarray]:
    """Speaker A, the clips in file order (16 kHz float32)."""
    return [load_audio(path) for path, _ in sorted(librivox.values())]


@pytest.fixture(scope="session")
def speech_b() -> list[np.ndarray]:
    """Speaker B: three of the longest Asterisk prompts (a different real speaker)."""
    _require(ASTERISK, "asterisk-core-sounds-en-wav")
    names = ["demo-instruct.wav", "demo-congrats.wav", "demo-echotest.wav"]
    return [load_audio(str(ASTERISK / n)) for n in names]


@pytest.fixture(scope="session")
def flite_slt(tmp_path_factory) -> tuple[str, str]:
    """(wav path, text) of flite's slt voice saying a known sentence."""
    if shutil.which("flite") is None:
        pytest.fail("flite missing: install the Debian package flite (requirements/apt.txt)")
    text = "the quick brown fox jumps over the lazy dog near the river bank"
    path = tmp_path_factory.mktemp("flite") / "slt.wav"
    subprocess.run(["flite", "-voice", "slt", "-t", text, "-o", str(path)], check=True, timeout=60)
    return str(path), text


@pytest.fixture
def write_wav(tmp_path):
    """write_wav(name, wav) -> path of a 16 kHz wav in tmp_path."""

    def _write(name: str, wav: np.ndarray) -> str:
        path = tmp_path / name
        write_audio(path, wav, SR)
        return str(path)

    return _write
