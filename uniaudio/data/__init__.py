"""Training data: the example store streamed into token-budget, task-weighted, resumable batches."""
