"""The multi-scale transformer (global model over frames + local model over the tokens of a frame).

Modules: ``config`` (ModelConfig, presets), ``layers`` (blocks, SDPA attention, RoPE, KV cache),
``masks`` (attention masks), ``multiscale`` (the model), ``output_mask`` (allowed ids per position,
shared by loss and decoding), ``loss``, ``decoding`` (incremental step API), ``flops`` (parameter and
FLOP accounting), ``batch`` (collate). Imports only torch / numpy / pydantic / yaml and the project's
vocabulary, tasks, sequence and config modules, so it runs on bare GPU machines.
"""

from uniaudio.model.batch import ModelBatch, collate
from uniaudio.model.config import PRESETS, ModelConfig, get_preset
from uniaudio.model.decoding import DecodeState
from uniaudio.model.flops import count_params, flops_per_frame, params_by_part, train_flops_per_frame
from uniaudio.model.loss import LossOutput, lm_loss, masked_token_loss
from uniaudio.model.multiscale import MultiScaleLM, autocast_for, build_model
from uniaudio.model.output_mask import OutputRules, allowed_mask, end_frame_mask

__all__ = [
    "PRESETS", "DecodeState", "LossOutput", "ModelBatch", "ModelConfig", "MultiScaleLM", "OutputRules",
    "allowed_mask", "autocast_for", "build_model", "collate", "count_params", "end_frame_mask",
    "flops_per_frame", "get_preset", "lm_loss", "masked_token_loss", "params_by_part",
    "train_flops_per_frame",
]
