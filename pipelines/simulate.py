"""Paired-data simulation for SE, TSE, dereverberation, audio edit and speech edit.

Pure functions over mono float32 numpy arrays at 16 kHz (deterministic given a
``numpy.random.Generator``), in :mod:`pipelines.simulation`:

* :func:`mix_at_snr` - SE (noise looped/cropped to the speech, scaled to an exact SNR) and TSE (a
  competing talker padded/cropped, scaled to an exact SIR); ``mixture == target + interference``;
* :func:`pick_enrolment` - another utterance of the target speaker, never the target itself;
* :func:`sample_rir_params` / :func:`render_rir` / :func:`reverberate` - pyroomacoustics shoebox
  rooms with random size and RT60; the target is the dry speech;
* :func:`audio_edit` - add / drop a sound event with an instruction ("Add the sound of ..."); replace,
  inpaint and super-resolution (the rest of AUDIT's edits) in :mod:`pipelines.simulation.audit`;
* :func:`pick_edit_span` - the 1-2 word span to mask for speech edit, in seconds and 50 Hz frames.

:func:`simulate` (the driver) writes wav files and a ``manifest.jsonl`` per task; :func:`write_spec`
adds a dataset spec naming them, so ``tokenize`` reads the pairs like any corpus. From the shell::

    python -m pipelines.simulate SPEC.yaml OUT --speech libri --noise noises --events sfx \\
        --set se.count=100 --set dereverb.count=50

See docs/DATASETS.md ("Simulation recipes") for every parameter and the recorded ``extra`` fields.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from pipelines.simulation.config import SimulationConfig
from pipelines.simulation.driver import TASKS, item_seed, simulate, spec_entries
from pipelines.simulation.edits import (
    AudioEdit,
    EditSpan,
    audio_edit,
    instruction_for,
    pick_edit_span,
    proportional_word_times,
)
from pipelines.simulation.mixing import Mixture, energy_ratio_db, fit_length, mix_at_snr, pick_enrolment, pick_interferer
from pipelines.simulation.reverb import RirParams, render_rir, reverberate, sample_rir_params

__all__ = [
    "TASKS", "AudioEdit", "EditSpan", "Mixture", "RirParams", "SimulationConfig", "audio_edit", "energy_ratio_db",
    "fit_length", "instruction_for", "item_seed", "main", "mix_at_snr", "pick_edit_span", "pick_enrolment",
    "pick_interferer", "proportional_word_times", "render_rir", "reverberate", "sample_rir_params", "simulate",
    "spec_entries", "write_spec",
]


def write_spec(manifests: dict[str, Path], out: str | Path, prefix: str = "sim", name: str = "simulated.yaml") -> Path:
    """Write ``out/<name>``: one ``manifest`` dataset per simulated task, roots relative to ``out``."""
    out = Path(out)
    path = out / name
    entries = spec_entries(manifests, prefix, spec_dir=out)
    path.write_text(yaml.safe_dump({"datasets": entries}, sort_keys=False))
    return path


def main(argv: list[str] | None = None) -> int:
    from pipelines.sources import load_dataset_spec, read_dataset
    from uniaudio.config import ConfigError, add_config_args, config_from_args

    p = argparse.ArgumentParser(prog="python -m pipelines.simulate", description=__doc__.split("\n")[0])
    p.add_argument("spec", help="dataset spec naming the source corpora")
    p.add_argument("out", help="output folder")
    p.add_argument("--speech", action="append", default=[], help="dataset name of clean speech (repeatable)")
    p.add_argument("--noise", action="append", default=[], help="dataset name of noise (repeatable)")
    p.add_argument("--events", action="append", default=[], help="dataset name of labelled sound events")
    p.add_argument("--backgrounds", action="append", default=None, help="audio-edit beds (default: --noise)")
    p.add_argument("--prefix", default="sim", help="prefix of the written dataset names")
    add_config_args(p)
    args = p.parse_args(argv)
    try:
        cfg = config_from_args(SimulationConfig, args)
        spec = load_dataset_spec(args.spec)

        def rows(names):
            out = []
            for n in names or []:
                if n not in [d.name for d in spec.datasets]:
                    raise ConfigError(f"{args.spec} has no dataset {n!r}; it has {[d.name for d in spec.datasets]}")
                res = read_dataset(spec.get(n))
                print(f"{n}: {res.summary()}", file=sys.stderr)
                out.extend(res.rows)
            return out

        manifests, problems = simulate(args.out, cfg, rows(args.speech), rows(args.noise), rows(args.events),
                                       rows(args.backgrounds) if args.backgrounds is not None else None)
    except (ConfigError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for prob in problems:
        print(f"problem: {prob.dataset} {prob.utt_id}: {prob.reason}", file=sys.stderr)
    spec_path = write_spec(manifests, args.out, args.prefix)
    print(f"wrote {', '.join(manifests)} -> {spec_path} ({len(problems)} problems)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
