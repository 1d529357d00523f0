"""The embedded demo corpus: a small but real multi-task corpus from packaged audio and offline synthesizers.

``build_demo_corpus(out)`` (CLI: ``uniaudio demo-corpus OUT [--small] [--seed N]``) writes, under
``out``, one folder per dataset in a layout the readers of :mod:`pipelines.sources` read, and
``out/datasets.yaml`` naming each dataset's reader, root (relative to ``out``) and tasks:

================  ========  =================================================================
dataset           reader    what it holds -> tasks
================  ========  =================================================================
real_speech       kaldi     recorded prompts + LibriVox/pocketsphinx test speech -> tts, plain_tts, vc, asr, sv
synth_speech      kaldi     sentences read by flite / festival / espeak-ng voices -> tts, plain_tts, vc, asr, sv
instruct_speech   manifest  styled speech (rate / pitch / loudness) + instruction -> instruct_tts
music             manifest  music21 scores rendered with FluidSynth, caption + MIDI -> text_to_music
sfx               captions  packaged sound effects captioned from their names -> text_to_sound
singing           singing   festival singing mode: wav + lyrics + MIDI notes -> svs
sim_*             manifest  simulated pairs (pipelines.simulate) -> se, tse, dereverb, audio_edit, speech_edit
================  ========  =================================================================

Everything is 16 kHz mono 16-bit wav. Given the seed the build is deterministic (see
docs/DEMO_CORPUS.md for which synthesizers are byte-stable). Synthesis runs on a process pool.

>>> from pipelines.democorpus import DemoCorpusConfig, SMALL
>>> DemoCorpusConfig(sizes=SMALL).sizes.songs_per_singer
2
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import Field

from uniaudio.config import ConfigBase
from uniaudio.errors import UserFacingError

MARKER = ".uniaudio-demo-corpus"  # lets a rebuild clear a previous demo corpus, and nothing else


class DemoSizes(ConfigBase):
    """How much of each part to build (``None`` = everything the package ships)."""

    asterisk: Annotated[int, Field(ge=2)] | None = None
    sphinx_per_set: Annotated[int, Field(ge=2)] | None = None
    synth_per_speaker: Annotated[int, Field(ge=2)] = 20  # >= 2: prompts need another utterance of the speaker
    instruct: Annotated[int, Field(ge=1)] = 96
    chorales: Annotated[int, Field(ge=1)] = 24
    folk: Annotated[int, Field(ge=1)] = 24
    music_clip_s: Annotated[float, Field(ge=2.0, le=30.0)] = 12.0
    sfx: Annotated[int, Field(ge=2)] | None = None
    songs_per_singer: Annotated[int, Field(ge=2)] = 10
    se: Annotated[int, Field(ge=1)] = 120
    tse: Annotated[int, Field(ge=1)] = 80
    dereverb: Annotated[int, Field(ge=1)] = 80
    audio_edit: Annotated[int, Field(ge=1)] = 80
    speech_edit: Annotated[int, Field(ge=1)] = 80


FULL = DemoSizes()
SMALL = DemoSizes(asterisk=6, sphinx_per_set=2, synth_per_speaker=2, instruct=6, chorales=2, folk=2, music_clip_s=6.0,
                  sfx=9, songs_per_singer=2, se=4, tse=4, dereverb=4, audio_edit=4, speech_edit=4)


class DemoCorpusConfig(ConfigBase):
    """Settings of one build (``uniaudio demo-corpus`` takes them as flags, ``--config`` or ``--set``)."""

    seed: int = Field(0, ge=0)
    workers: Annotated[int, Field(ge=1)] = 2  # processes for synthesis and simulation (the budget is 2 cores)
    small: bool = False  # the 4-voice subset of the synthetic speakers (``--small`` also picks the SMALL sizes)
    sizes: DemoSizes = FULL


@dataclass(frozen=True)
class DatasetDef:
    name: str
    reader: str
    tasks: tuple[str, ...]
    options: dict
    root: str | None = None  # relative to the corpus folder; default: the dataset name


RAW_DATASETS = (
    DatasetDef("real_speech", "kaldi", ("tts", "plain_tts", "vc", "asr", "sv"), {"require_speaker": True}),
    DatasetDef("synth_speech", "kaldi", ("tts", "plain_tts", "vc", "asr", "sv"), {"require_speaker": True}),
    DatasetDef("instruct_speech", "manifest", ("instruct_tts",), {"require_text": True}),
    DatasetDef("music", "manifest", ("text_to_music",), {}),
    DatasetDef("sfx", "captions", ("text_to_sound",), {}),
    DatasetDef("singing", "singing", ("svs",), {}),
)
LAYOUT_OF = {"kaldi": "kaldi", "manifest": "manifest", "captions": "captions", "singing": "singing"}
SOURCE_KEYS = ("asterisk_wav", "asterisk_txt", "librivox", "cards", "flite", "text2wave", "festival", "festival_ked", "festival_kal",
               "espeak", "fluidsynth", "soundfont", "wordwarvi", "freedesktop", "sonic_pi", "alsa_noise")


@dataclass
class DatasetReport:
    name: str
    reader: str
    rows: int
    hours: float
    tasks: tuple[str, ...]


@dataclass
class BuildReport:
    out: Path
    spec_path: Path
    datasets: list[DatasetReport]
    seconds: float
    stages: dict[str, float]  # wall seconds of planning, synthesis, simulation

    def table(self) -> str:
        """The summary table printed at the end of a build."""
        head = ("dataset", "reader", "rows", "hours", "tasks")
        rows = [(d.name, d.reader, str(d.rows), f"{d.hours:.3f}", ",".join(d.tasks)) for d in self.datasets]
        rows.append(("total", "", str(sum(d.rows for d in self.datasets)), f"{sum(d.hours for d in self.datasets):.3f}", ""))
        widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
        fmt = "  ".join(f"{{:<{w}}}" for w in widths)
        lines = [fmt.format(*head), fmt.format(*("-" * w for w in widths))] + [fmt.format(*r) for r in rows]
        return "\n".join(line.rstrip() for line in lines)


def _prepare_out(out: Path) -> None:
    """Create ``out``; clear it only if it is a previous demo corpus (never a user's other folder)."""
    if out.exists() and not out.is_dir():
        raise UserFacingError(f"{out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not (out / MARKER).is_file():
            raise UserFacingError(f"{out} is not empty and is not a demo corpus; choose a new or empty folder")
        for child in out.iterdir():
            shutil.rmtree(child) if child.is_dir() else child.unlink()
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("built by `uniaudio demo-corpus`; the whole folder is rebuilt on the next run\n")


def plan_raw(out: Path, cfg: DemoCorpusConfig) -> dict[str, list]:
    """(item, job) pairs for every raw (non-simulated) dataset, keyed by dataset name."""
    from pipelines.demo import music, sfx, singing, speech

    s, seed = cfg.sizes, cfg.seed
    pool = speech.text_pool()
    return {
        "real_speech": speech.plan_real_speech(out / "real_speech", s.asterisk, s.sphinx_per_set, seed),
        "synth_speech": speech.plan_synth_speech(out / "synth_speech", pool, s.synth_per_speaker, cfg.small, seed),
        "instruct_speech": speech.plan_instruct_speech(out / "instruct_speech", pool, s.instruct, cfg.small, seed),
        "music": music.plan_music(out / "music", s.chorales, s.folk, s.music_clip_s, seed),
        "sfx": sfx.plan_sfx(out / "sfx", s.sfx, seed),
        "singing": singing.plan_singing(out / "singing", pool, s.songs_per_singer, seed),
    }


def run_planned(plans: dict[str, list], pool, desc: str) -> dict[str, list[dict]]:
    """Run every job of every dataset on ``pool``; merge each result into its item."""
    flat = [(name, item, job) for name, pairs in plans.items() for item, job in pairs]
    results = pool.run([job for _, _, job in flat], desc=desc)
    items: dict[str, list[dict]] = {name: [] for name in plans}
    for (name, item, _), res in zip(flat, results):
        extra = {**item.get("extra", {}), **res.pop("extra", {})}
        merged = {**item, **res}
        if extra:
            merged["extra"] = extra
        items[name].append(merged)
    return items


def write_spec(out: Path, defs: list[DatasetDef]) -> Path:
    spec = {"datasets": [{"name": d.name, "reader": d.reader, "root": d.root or d.name, "tasks": list(d.tasks),
                          **({"options": d.options} if d.options else {})} for d in defs]}
    path = out / "datasets.yaml"
    header = "# The embedded demo corpus (uniaudio demo-corpus). Roots are relative to this file.\n"
    path.write_text(header + yaml.safe_dump(spec, sort_keys=False, width=120, default_flow_style=None))
    return path


def build_demo_corpus(out: str | Path, cfg: DemoCorpusConfig | None = None) -> BuildReport:
    """Build the corpus under ``out`` (see the module docstring); returns the per-dataset report."""
    from pipelines.demo import layouts, pairs
    from pipelines.demo.common import JobPool, check_sources

    cfg = cfg or DemoCorpusConfig()
    t0 = time.perf_counter()
    out = Path(out).resolve()
    check_sources(SOURCE_KEYS)
    _prepare_out(out)
    stages = {}
    with JobPool(cfg.workers) as pool:
        plans = plan_raw(out, cfg)
        stages["plan"] = time.perf_counter() - t0
        items = run_planned(plans, pool, "demo corpus: synthesis")
        defs = list(RAW_DATASETS)
        for d in defs:
            layouts.WRITERS[LAYOUT_OF[d.reader]](out / d.name, items[d.name])
        stages["synthesis"] = time.perf_counter() - t0 - stages["plan"]
        sim_defs, sim_items = pairs.build_pairs(out, items, cfg, pool)
        stages["simulation"] = time.perf_counter() - t0 - stages["plan"] - stages["synthesis"]
    defs += sim_defs
    items.update(sim_items)
    spec_path = write_spec(out, defs)
    build_info = {"seed": cfg.seed, "small": cfg.small, "sizes": cfg.sizes.to_dict(), "tools": tool_versions()}
    (out / "build.json").write_text(json.dumps(build_info, indent=1, sort_keys=True) + "\n")
    reports = [DatasetReport(d.name, d.reader, len(items[d.name]), sum(it["duration_s"] for it in items[d.name]) / 3600.0, d.tasks)
               for d in defs]
    return BuildReport(out, spec_path, reports, time.perf_counter() - t0, stages)


def tool_versions() -> dict[str, str]:
    """Versions of the Debian packages the corpus came from (a different version may change bytes)."""
    import subprocess

    pkgs = ["asterisk-core-sounds-en-wav", "asterisk-core-sounds-en", "pocketsphinx-testdata", "flite", "festival", "festvox-kdlpc16k", "festvox-kallpc16k",
            "espeak-ng", "fluidsynth", "fluid-soundfont-gm", "wordwarvi-sound", "sound-theme-freedesktop", "sonic-pi-samples",
            "alsa-utils"]
    try:
        proc = subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${Version}\\n", *pkgs], capture_output=True, text=True, timeout=30)
        versions = dict(line.split(" ", 1) for line in proc.stdout.splitlines() if " " in line)
    except (OSError, subprocess.SubprocessError):
        versions = {}
    import music21

    versions["music21"] = music21.__version__
    return dict(sorted(versions.items()))
