from typing import Literal

import pytest

from uniaudio.config import ConfigBase, ConfigError, apply_overrides, load_config


class Optim(ConfigBase):
    lr: float = 1e-3
    schedule: Literal["cosine", "inverse_sqrt"] = "cosine"


class Train(ConfigBase):
    steps: int = 10
    workers: int = 1
    tasks: list[str] = ["tts"]
    optim: Optim = Optim()


def test_layers_preset_file_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("steps: 50\noptim:\n  lr: 0.01\n")
    preset = Train(workers=4)
    cfg = load_config(Train, path, ["optim.schedule=inverse_sqrt", "tasks=[se, tse]"], base=preset)
    assert (cfg.steps, cfg.workers, cfg.optim.lr, cfg.optim.schedule) == (50, 4, 0.01, "inverse_sqrt")
    assert cfg.tasks == ["se", "tse"]


def test_literal_error_names_field_and_accepted_values():
    with pytest.raises(ConfigError) as e:
        load_config(Train, overrides=["optim.schedule=linear"])
    msg = str(e.value)
    assert "optim.schedule" in msg and "'cosine'" in msg and "'inverse_sqrt'" in msg and "linear" in msg


def test_type_error_names_field():
    with pytest.raises(ConfigError, match=r"steps: .*integer.*abc"):
        load_config(Train, overrides=["steps=abc"])


def test_unknown_field_lists_accepted_fields():
    with pytest.raises(ConfigError, match=r"optim.lrr: unknown field; accepted fields: lr, schedule"):
        load_config(Train, overrides=["optim.lrr=1"])


@pytest.mark.parametrize("bad", ["noequals", "=3", "a..b=1"])
def test_malformed_override(bad):
    with pytest.raises(ConfigError):
        apply_overrides({}, [bad])


def test_missing_and_invalid_files(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(Train, tmp_path / "nope.yaml")
    p = tmp_path / "list.yaml"
    p.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(Train, p)
    p.write_text("steps: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(Train, p)


def test_round_trip_and_hash():
    cfg = Train(steps=3)
    again = load_config(Train, base=cfg.to_dict())
    assert again == cfg and again.content_hash() == cfg.content_hash()
    assert Train(steps=4).content_hash() != cfg.content_hash()
