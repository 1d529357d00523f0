"""Dataset spec: which corpora to read, with which reader, feeding which tasks.

```yaml
datasets:
  - name: libri_small          # unique; the token-store partition
    reader: kaldi              # see pipelines.sources.registry.reader_names()
    root: data/libri_small     # relative roots resolve against the spec file's folder
    tasks: [tts, vc]
    options: {data_dir: data/train}
    language: en-us            # optional: the transcripts' language (G2P); zh / cmn = Mandarin (pinyin)
```

The reader name and its options are validated when the spec is loaded, so a typo fails before any
job starts, with a :class:`~uniaudio.config.ConfigError` naming the dataset and the field.

>>> spec = DatasetSpec(datasets=[{"name": "a", "reader": "manifest", "root": "/d", "tasks": ["tts"]}])
>>> spec.datasets[0].reader
'manifest'
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError, field_validator, model_validator

from uniaudio.config import ConfigBase, ConfigError, apply_overrides, format_validation_error, read_yaml
from uniaudio.stores import uri as uris

# Dataset names become Delta partition values and folder names.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


class _Strict(ConfigBase):
    """Constructing directly (not only through load_dataset_spec) also raises ConfigError."""

    def __init__(self, **data: Any):
        try:
            super().__init__(**data)
        except ValidationError as err:
            # Drop pydantic's "<root>: Value error, " noise: the message should read like a sentence,
            # also when pydantic nests it under "datasets.N" of a DatasetSpec.
            msg = format_validation_error(type(self), err).replace("<root>: ", "").replace("Value error, ", "")
            raise ConfigError(msg) from None


class DatasetEntry(_Strict):
    """One corpus: ``name`` (partition), ``reader``, ``root`` folder, ``tasks`` it feeds, reader ``options``."""

    name: str
    reader: str
    root: str
    tasks: list[str]
    options: dict[str, Any] = {}
    language: str | None = None  # stamped as extra["language"] on every row (pipelines.sources.language)

    @field_validator("name")
    @classmethod
    def _name_ok(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError("must start with a letter or digit and use only letters, digits, '_', '-', '.'")
        return v

    @field_validator("root")
    @classmethod
    def _root_ok(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must name a folder")
        return v

    @field_validator("tasks")
    @classmethod
    def _tasks_ok(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("must list at least one task")
        if any(not t or not isinstance(t, str) for t in v):
            raise ValueError("task names must be non-empty strings")
        if len(set(v)) != len(v):
            raise ValueError("lists a task twice")
        return v

    @model_validator(mode="after")
    def _reader_ok(self) -> "DatasetEntry":
        from pipelines.sources.registry import get_reader, parse_options

        try:
            get_reader(self.reader)
            parse_options(self.reader, self.options)
        except ConfigError as err:
            # Raised as ValueError so pydantic wraps it with the entry's location.
            raise ValueError(str(err)) from None
        return self

    def reader_options(self):
        """The validated options model of this entry's reader."""
        from pipelines.sources.registry import parse_options

        return parse_options(self.reader, self.options)


class DatasetSpec(_Strict):
    """A list of :class:`DatasetEntry` with unique names."""

    datasets: list[DatasetEntry]

    @field_validator("datasets")
    @classmethod
    def _unique(cls, v: list[DatasetEntry]) -> list[DatasetEntry]:
        names = [d.name for d in v]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"dataset names must be unique; repeated: {', '.join(dup)}")
        return v

    def get(self, name: str) -> DatasetEntry:
        for d in self.datasets:
            if d.name == name:
                return d
        raise KeyError(name)


def load_dataset_spec(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> DatasetSpec:
    """Load and validate a spec YAML (a local path or an ``s3://``/``gs://`` URI); each relative
    ``root`` becomes absolute against the file's folder (or prefix)."""
    # Not load_config: DatasetSpec raises ConfigError itself, which load_config would wrap a second time.
    spec = DatasetSpec(**apply_overrides(read_yaml(path), overrides))
    base = uris.parent(path) if uris.is_remote(path) else os.path.dirname(os.path.abspath(uris.local_path(path)))
    for entry in spec.datasets:
        entry.root = uris.resolve(os.path.expanduser(entry.root), base)
    return spec

