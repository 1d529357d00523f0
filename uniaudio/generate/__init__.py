"""Generation for every task: requests -> condition prefixes -> KV-cached batched sampling -> codec decode.

Modules: ``sampling`` (temperature / top-k / top-p with per-request counter-based noise), ``decoder``
(the batched frame loop over the model's step API; torch-level only), ``lengths`` (output length bounds
from the conditions), ``requests`` (what each task needs; JSONL parsing), ``conditioning`` (tokenizers +
codec -> prefixes), ``loading`` (model URIs: export dir, checkpoint dir, MLflow; codec and tokenizer
settings from the lineage), ``runner`` (:class:`~uniaudio.generate.runner.Generator`), ``batch``
(batch mode and the RESULTS file), ``config`` (:class:`~uniaudio.generate.config.GenerateConfig`).
Nothing is imported here, so ``import uniaudio.generate.decoder`` stays torch-only. See docs/GENERATION.md.
"""
