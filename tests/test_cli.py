import subprocess
import sys

from uniaudio.cli import main
from uniaudio.tasks import TASKS


def test_help_lists_subcommands():
    out = subprocess.run([sys.executable, "-m", "uniaudio", "--help"], capture_output=True, text=True, check=True)
    for cmd in ("tasks", "vocab"):
        assert cmd in out.stdout


def test_tasks_lists_all_14(capsys):
    assert main(["tasks"]) == 0
    out = capsys.readouterr().out
    for name in TASKS:
        assert name in out
    assert len(TASKS) == 14


def test_vocab_check_rejects_mismatch(tmp_path, capsys):
    (tmp_path / "vocab.json").write_text('{"name": "x", "version": "v0", "size": 1, "specials": {}, "tasks": {},'
                                        ' "ranges": {"codec": {"start": 0, "size": 1, "codebook_size": 1,'
                                        ' "num_codebooks": 1}}, "modality_ranges": {}, "continuous_modalities": [],'
                                        ' "modality_markers": {}}')
    assert main(["vocab", "--check", str(tmp_path)]) == 2
    assert "v0" in capsys.readouterr().err


def test_no_command_prints_help(capsys):
    assert main([]) == 2
