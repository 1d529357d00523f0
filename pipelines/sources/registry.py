"""Reader registry: the spec's ``reader:`` name -> (options model, read function).

A reader is a function ``read(ctx, root, options)`` that walks one dataset and hands rows to
``ctx.add`` and problems to ``ctx.problem``; its options are a :class:`ReaderOptions` subclass, so a
misspelt option in a dataset spec is a :class:`~uniaudio.config.ConfigError` naming the field.
Built-in readers register on import; :func:`get_reader` imports them on first use.

>>> sorted(reader_names())[:3]
['aishell3', 'captions', 'kaldi']
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable, Literal, Mapping

from uniaudio.config import ConfigBase, ConfigError, validate_config

_BUILTIN_MODULES = (
    "pipelines.sources.kaldi",
    "pipelines.sources.libri",
    "pipelines.sources.vctk",
    "pipelines.sources.manifest_file",
    "pipelines.sources.captions",
    "pipelines.sources.singing",
    "pipelines.sources.opencpop",
    "pipelines.sources.m4singer",
    "pipelines.sources.aishell3",
)


class ReaderOptions(ConfigBase):
    """Options every reader accepts (``options:`` in the dataset spec)."""

    fingerprint: Literal["stat", "content"] = "stat"  # see pipelines.sources.fingerprint
    probe_audio: bool = False  # open each audio header at read time (reports unreadable files early)


@dataclass(frozen=True)
class Reader:
    name: str
    options_cls: type[ReaderOptions]
    read: Callable[..., None]
    doc: str


_READERS: dict[str, Reader] = {}
_loaded = False


def register_reader(name: str, options_cls: type[ReaderOptions] = ReaderOptions) -> Callable:
    """Decorator: ``@register_reader("kaldi", KaldiOptions)`` on ``def read(ctx, root, opts)``."""

    def deco(fn: Callable[..., None]) -> Callable[..., None]:
        if name in _READERS and _READERS[name].read is not fn:
            raise ValueError(f"reader {name!r} registered twice")
        _READERS[name] = Reader(name, options_cls, fn, (fn.__doc__ or "").strip().split("\n")[0])
        return fn

    return deco


def _load_builtin() -> None:
    global _loaded
    if not _loaded:
        for mod in _BUILTIN_MODULES:
            importlib.import_module(mod)
        _loaded = True


def reader_names() -> list[str]:
    _load_builtin()
    return sorted(_READERS)


def get_reader(name: str) -> Reader:
    """The reader called ``name``, or a ConfigError listing the accepted names."""
    _load_builtin()
    if name not in _READERS:
        raise ConfigError(f"unknown reader {name!r}; accepted readers: {', '.join(sorted(_READERS))}")
    return _READERS[name]


def parse_options(reader: str, options: Mapping[str, Any]) -> ReaderOptions:
    """Validate a spec entry's ``options`` against the reader's options model."""
    r = get_reader(reader)
    try:
        return validate_config(r.options_cls, options or {})
    except ConfigError as err:
        raise ConfigError(f"reader {reader!r} options: {err}") from None
