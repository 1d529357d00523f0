"""Modality tokenizers: text, audio and scores -> local ids (or float arrays) of one modality each.

Pure functions and classes, no Ray: the tokenization job runs them per item / batch. Construction is
cheap; models load lazily once per process. See docs/TOKENIZERS.md.

>>> from uniaudio.tokenizers import TokenizersConfig, build_tokenizers
>>> toks = build_tokenizers(TokenizersConfig())
>>> toks["text"].decode(toks["text"].tokenize("hi"))
'hi'
"""

from .base import TokenizeError, Tokenizer, TokenizerUnavailable
from .codec_tokens import CodecTokConfig, CodecTokenizer
from .features import FeatureConfig, num_frames
from .kmeans import KMeansModel, fit_kmeans
from .phones import PhoneConfig, PhoneSequence, PhoneTokenizer, unique_consecutive
from .prompt import PROMPT_FRAMES, PromptChoice, SpeakerIndex
from .registry import PromptConfig, TokenizersConfig, build_tokenizers, tokenizer_set_version
from .semantic import SemanticConfig, SemanticTokenizer, fit_semantic_kmeans
from .singing import REST, SingConfig, SingInput, SingSequence, SingTokenizer
from .text import ByteTextTokenizer, TextConfig
from .text_emb import TextEmbConfig, TextEmbeddingTokenizer

__all__ = [
    "TokenizeError", "Tokenizer", "TokenizerUnavailable",
    "CodecTokConfig", "CodecTokenizer",
    "FeatureConfig", "num_frames", "KMeansModel", "fit_kmeans",
    "PhoneConfig", "PhoneSequence", "PhoneTokenizer", "unique_consecutive",
    "PROMPT_FRAMES", "PromptChoice", "SpeakerIndex",
    "PromptConfig", "TokenizersConfig", "build_tokenizers", "tokenizer_set_version",
    "SemanticConfig", "SemanticTokenizer", "fit_semantic_kmeans",
    "REST", "SingConfig", "SingInput", "SingSequence", "SingTokenizer",
    "ByteTextTokenizer", "TextConfig", "TextEmbConfig", "TextEmbeddingTokenizer",
]  # fmt: skip
