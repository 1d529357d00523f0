"""Tokenization job: manifest rows -> decode/validate -> modality tokenizers -> codec -> token store.

See docs/STORES.md for the token store and quarantine layout and the incremental / crash-safety
policies. Entry point: :func:`run_tokenize` (``uniaudio tokenize``).
"""

from pipelines.tokenize.config import TokenizeConfig
from pipelines.tokenize.job import run_tokenize
from pipelines.tokenize.summary import TokenizeSummary

__all__ = ["TokenizeConfig", "TokenizeSummary", "run_tokenize"]
