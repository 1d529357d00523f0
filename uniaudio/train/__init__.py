"""LM training: Ray Train TorchTrainer workers running DeepSpeed ZeRO over the example store.

``config`` (TrainConfig), ``optim`` (parameter groups, LR schedule), ``engine`` (DeepSpeed set-up and
the non-finite-gradient guard), ``step`` (the State and the pure train/eval step functions),
``checkpoint`` (per-rank ZeRO shards + loader/RNG state), ``worker`` (the per-worker loop),
``driver`` (Ray Train + MLflow on the driver), ``export`` (consolidated inference weights).
"""
