"""Tiny random T5 / HuBERT folders in the local HuggingFace layout (no real weights ship): what the full
plan's weight check accepts, and real enough to load (the T5 one also runs through the text embedding)."""

from pathlib import Path


def tiny_t5_dir(path) -> str:
    """A randomly initialised 1-layer T5 encoder (d_model 768) + a word-level tokenizer."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast, T5Config, T5EncoderModel

    words = ["<pad>", "</s>", "<unk>", "add", "the", "sound", "of", "rain"]
    tk = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.Whitespace()
    tk.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    PreTrainedTokenizerFast(tokenizer_object=tk, pad_token="<pad>", eos_token="</s>", unk_token="<unk>").save_pretrained(path)
    torch.manual_seed(0)
    cfg = T5Config(vocab_size=len(words), d_model=768, d_kv=16, d_ff=32, num_layers=1, num_heads=2, pad_token_id=0,
                   eos_token_id=1)
    T5EncoderModel(cfg).save_pretrained(path)
    return str(Path(path))


def tiny_hubert_dir(path) -> str:
    """A randomly initialised 10-layer HuBERT (hidden 32): layer 9 exists."""
    import torch
    from transformers import HubertConfig, HubertModel

    torch.manual_seed(0)
    cfg = HubertConfig(hidden_size=32, num_hidden_layers=10, num_attention_heads=2, intermediate_size=64,
                       conv_dim=(16,) * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2)
    HubertModel(cfg).save_pretrained(path)
    return str(Path(path))
