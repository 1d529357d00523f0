"""Example building: token store -> example store (one complete frame sequence + loss span per row).

Entry point: :func:`run_examples` (``uniaudio examples``); docs/STORES.md describes the store.
"""

from pipelines.examples.build import run_examples
from pipelines.examples.config import ExamplesConfig
from pipelines.examples.summary import ExamplesSummary

__all__ = ["ExamplesConfig", "ExamplesSummary", "run_examples"]
