"""``uniaudio generate``: generate audio (or asr text / an sv label) for any task.

    uniaudio generate --task tts --model runs/lm --text "Hello there." --prompt spk.wav -o out.wav
    uniaudio generate --task se --model runs:/<run_id>/model --source noisy.wav -o clean.wav
    uniaudio generate --task speech_edit --model DIR --text "the new sentence" --source orig.wav \\
        --edit-span 1.20:1.85 -o edited.wav
    uniaudio generate --task asr --model DIR --source speech.wav            # prints the text
    uniaudio generate --batch requests.jsonl --out-dir gen/ --model models:/uniaudio/3
    uniaudio evaluate gen/results.jsonl

The codec and the tokenizer settings come from the model's lineage (``--codec DIR`` overrides the
codec). Sampling, lengths, batching and guidance are ``GenerateConfig`` fields (``--set sampling.top_p=0.9``,
``--set cfg_scale=3``, ``--set cfg_task_scales.text_to_music=4``); the common ones have flags. See
docs/GENERATION.md.
"""

from __future__ import annotations

import argparse
import json

NAME = "generate"
HELP = "generate audio for a task (or a JSONL batch of requests) with a trained model"
ORDER = 70

INPUTS = (
    ("text", "transcript (tts, plain_tts, instruct_tts, speech_edit: the edited sentence; asr: reference)"),
    ("prompt", "voice prompt wav (tts, vc, svs, sv); the first 3 s are used"),
    ("source", "input wav (se, tse mixture, dereverb, vc content, speech_edit, audio_edit, asr, sv)"),
    ("enrolment", "target speaker's enrolment wav (tse)"),
    ("caption", "text description (text_to_sound, text_to_music)"),
    ("instruction", "edit / style instruction (audio_edit, instruct_tts)"),
    ("lyrics", "lyrics (svs)"),
    ("notes", "MIDI or MusicXML file with the melody (svs)"),
    ("reference", "ground-truth wav, copied into the results for evaluation"),
    ("label", "sv ground truth (1 = same speaker), copied into the results"),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from uniaudio.config import add_config_args
    from uniaudio.tasks import TASKS

    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.description = __doc__
    parser.add_argument("--model", required=True, metavar="URI",
                        help="exported model dir (uniaudio train --out), checkpoint dir, runs:/ID/model or models:/NAME/VER")
    # not argparse choices: a --tasks-file (applied after parsing) may add tasks; the request parser checks
    parser.add_argument("--task", metavar="TASK", help=f"task of a single request ({', '.join(sorted(TASKS))}, "
                                                      f"or one of --tasks-file)")
    for name, text in INPUTS:
        parser.add_argument(f"--{name}", help=text)
    parser.add_argument("--edit-span", metavar="START:END", help="speech_edit: the span of --source to regenerate (seconds)")
    parser.add_argument("--id", help="request id (default: the output file name)")
    parser.add_argument("--seed", type=int, help="sampling seed of this request (default: from sampling.seed and the id)")
    parser.add_argument("-o", "--output", metavar="OUT", help="output wav (asr: text file; optional for asr/sv)")
    parser.add_argument("--results", metavar="FILE.jsonl", help="single request: also write its results line here")
    parser.add_argument("--batch", metavar="REQUESTS.jsonl", help="generate every request of a JSONL file")
    parser.add_argument("--out-dir", metavar="DIR", help="batch mode: folder for wavs/, results.jsonl, errors.jsonl "
                        "(a request's 'output' is relative to it and must stay inside it)")
    parser.add_argument("--overwrite", action="store_true", help="batch mode: replace existing output files")
    parser.add_argument("--codec", metavar="CODEC", help="codec checkpoint dir, `codec train --out` dir or MLflow "
                        "runs:/ | models:/ URI (default: the model lineage's codec_dir)")
    parser.add_argument("--model-config", metavar="FILE", help="model config for a bare checkpoint directory")
    parser.add_argument("--tracking-uri", help="MLflow tracking URI for runs:/ and models:/ (default: $MLFLOW_TRACKING_URI)")
    g = parser.add_argument_group("sampling and length (shortcuts for --set)")
    g.add_argument("--top-k", type=int, help="top-k (default 30; 1 = greedy)")
    g.add_argument("--top-p", type=float, help="nucleus mass (default 1.0 = off)")
    g.add_argument("--temperature", type=float, help="temperature (default 0.8)")
    g.add_argument("--batch-size", type=int, help="requests generated together (default 8)")
    g.add_argument("--cfg-scale", type=float, metavar="W",
                   help="classifier-free guidance scale for text-conditioned tasks (default 1.0 = off; "
                        "needs a model trained with loader.cond_dropout > 0)")
    g.add_argument("--max-seconds", type=float, help="max length of free-length tasks (text_to_sound/music)")
    g.add_argument("--fixed-length", action="store_true", help="frame-aligned tasks: output exactly the source length")
    g.add_argument("--device", help="cpu, cuda, cuda:1 ... (default auto)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    from uniaudio.cli.quiet import add_verbose

    add_verbose(parser)
    add_config_args(parser)


def _overrides(args: argparse.Namespace) -> list[str]:
    sets = list(args.overrides or [])
    flags = {"sampling.top_k": args.top_k, "sampling.top_p": args.top_p, "sampling.temperature": args.temperature,
             "batch_size": args.batch_size, "lengths.max_seconds": args.max_seconds, "device": args.device,
             "cfg_scale": args.cfg_scale}
    sets += [f"{k}={json.dumps(v)}" for k, v in flags.items() if v is not None]
    if args.fixed_length:
        sets.append("lengths.fixed_length=true")
    return sets


def _single_request(args: argparse.Namespace, limits=None):
    from pathlib import Path

    from uniaudio.errors import UserFacingError
    from uniaudio.generate.requests import parse_request

    if not args.task:
        raise UserFacingError("give --task TASK (with its inputs and -o OUT), or --batch REQUESTS.jsonl --out-dir DIR")
    from uniaudio.tasks import TASKS

    if args.task not in TASKS:
        raise UserFacingError(f"--task: unknown task {args.task!r}; known tasks: {', '.join(TASKS)}")
    audio_out = TASKS[args.task].output_kind == "audio"
    if audio_out and not args.output:
        raise UserFacingError(f"task {args.task} writes a wav: give -o OUT.wav")
    obj = {name: getattr(args, name) for name, _ in INPUTS if getattr(args, name) is not None}
    obj.update(task=args.task, id=args.id or (Path(args.output).stem if args.output else args.task))
    if args.edit_span is not None:
        obj["edit_span"] = args.edit_span
    if args.seed is not None:
        obj["seed"] = args.seed
    if args.output and audio_out:
        obj["output"] = args.output
    try:
        return parse_request(obj, base=Path.cwd(), limits=limits)
    except ValueError as err:
        raise UserFacingError(str(err)) from None


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from uniaudio.config import config_from_args
    from uniaudio.errors import UserFacingError
    from uniaudio.generate.config import GenerateConfig
    from uniaudio.generate.requests import read_requests

    args.overrides = _overrides(args)
    cfg = config_from_args(GenerateConfig, args)
    if args.batch:
        if args.task or not args.out_dir:
            raise UserFacingError("batch mode takes --batch REQUESTS.jsonl --out-dir DIR (and no --task)")
        requests, bad = read_requests(args.batch, cfg.limits)
    else:
        requests, bad = [_single_request(args, cfg.limits)], []

    from uniaudio.allocator import keep_freed_memory
    from uniaudio.generate.batch import run_batch
    from uniaudio.generate.runner import Generator, write_outcome

    keep_freed_memory()  # codec decode / KV cache buffers: reuse freed heap instead of fresh mmaps

    def open_generator() -> Generator:
        return Generator(args.model, cfg, codec_uri=args.codec, tracking_uri=args.tracking_uri,
                         model_config=args.model_config)

    if args.batch:  # a long loop: third-party output (MLflow, torch warnings) into OUT/logs/generate.log
        from uniaudio.cli.quiet import log_file, quiet

        with quiet(log_file(args.out_dir, "generate"), "generate", args.verbose), open_generator() as gen:
            summary = run_batch(gen, requests, bad, args.out_dir, progress=not args.quiet, overwrite=args.overwrite)
        print(summary.line())
        return 0 if summary.generated else 1
    with open_generator() as gen:
        (outcome,) = gen.generate(requests)
        if not outcome.ok:
            raise UserFacingError(outcome.error)
        out = Path(args.output) if args.output else Path.cwd()
        record = write_outcome(outcome, out.parent if args.output else out, gen.loaded.uri)
        if outcome.text is not None:
            print(outcome.text)
            if args.output:
                Path(args.output).write_text(outcome.text + "\n", encoding="utf-8")
        elif outcome.label is not None:
            print(outcome.label)
        if args.results:
            res = Path(args.results)
            res.parent.mkdir(parents=True, exist_ok=True)
            if outcome.wav is not None:  # the output path relative to the results file's folder
                record["output"] = str(Path(args.output).resolve())
            res.write_text(json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8")
        what = f"{record['seconds']:.2f} s of audio -> {args.output}" if outcome.wav is not None else f"{args.task} output"
        print(f"{args.task} {outcome.request.id}: {what} ({outcome.frames} frames, ended by "
              f"{'the model' if outcome.stop == 'eos' else 'the length bound'}; seed {outcome.seed})")
        return 0
