"""Offline word + phone alignment of speech to its transcript (speech edit spans on word boundaries).

``words.align`` (Whisper-base word timestamps matched to the transcript) -> ``segment.segment`` (a
Viterbi phone segmentation with a duration model); ``reference_timing`` gives synthesized speech with
known boundaries for measuring it (``benchmarks/alignment_boundaries.py``).
"""
