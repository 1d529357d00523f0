"""Importers of the published UniAudio checkpoints (``uniaudio import-reference ...``, docs/REFERENCE_MODELS.md).

Each reads a published format as a fact (never the published code) and writes this project's own artifact:

- :mod:`~uniaudio.reference.lm_import`: an LM experiment dir (``config.yaml`` + checkpoint) -> a model export,
  ids translated by name (:mod:`~uniaudio.reference.token_map`), tensors mapped
  (:mod:`~uniaudio.reference.lm_weights`), read weights-only (:mod:`~uniaudio.reference.torch_file`);
- :mod:`~uniaudio.reference.semantic_import`: fairseq HuBERT (:mod:`~uniaudio.reference.hubert_weights`) +
  the k-means pickle read by a restricted unpickler (:mod:`~uniaudio.reference.kmeans_pickle`);
- the codec importer lives with the codec (:mod:`codec.published`), the phone table with the tokenizers
  (:mod:`uniaudio.tokenizers.phone_table`).
"""
