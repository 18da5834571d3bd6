"""ConvBERT Studio's PyTorch engine: the model, optimizer and safetensors I/O with the TF.js model's names and
layouts (docs/torch-engine.md)."""
from .model import PretrainingModel, build_model, initial_values
from .optim import Optimizer, is_norm_or_bias
from .parameters import ModelSpecError, ParamSpec, parameter_shapes

__all__ = ['ModelSpecError', 'Optimizer', 'ParamSpec', 'PretrainingModel', 'build_model', 'initial_values', 'is_norm_or_bias', 'parameter_shapes']
