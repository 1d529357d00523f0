"""Packaged tokenizer data files (symbol inventories)."""
