"""The parameter table of a resolved model spec: a port of src/core/model/params.ts.

Every parameter's name, shape, initialiser and cost-model module, in the TF.js model's order, so that the PyTorch
model carries exactly the TF.js model's names and layouts (dense kernels [in, out], the grouped conv kernel in the
im2col layout [groups, k·g, g], the grouped down-projection [G, I/G, H/G]) and a checkpoint written by one engine
loads in the other.

The spec is the JSON of `resolveSpec(...)` (src/core/spec/resolve.ts): either the whole resolved spec (with a
`model` key) or its `model` part.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Tuple

ModelSpec = Dict[str, Any]
ModuleSpec = Dict[str, Any]


class ModelSpecError(ValueError):
    """A model spec the model cannot be built from (sizes that do not divide, no loss head, missing fields)."""


@dataclass(frozen=True)
class Initializer:
    """`truncatedNormal` (std), `zeros`, `ones` or `glorotUniform` (fan_in, fan_out), as in params.ts."""

    kind: str
    std: float = 0.0
    fan_in: int = 0
    fan_out: int = 0


@dataclass(frozen=True)
class ParamSpec:
    name: str
    shape: Tuple[int, ...]
    init: Initializer
    module: str

    @property
    def size(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n


def model_of(spec: Dict[str, Any]) -> ModelSpec:
    """The `model` part of a resolved spec (or the argument itself when it already is one)."""
    if not isinstance(spec, dict):
        raise ModelSpecError('the spec must be a JSON object (the output of resolveSpec)')
    model = spec.get('model', spec)
    if not isinstance(model, dict) or 'layers' not in model or 'hiddenSize' not in model:
        raise ModelSpecError('the spec has no resolved model (expected the JSON of resolveSpec, with model.layers)')
    return model


def layer_name(index: int, num_layers: int) -> str:
    """`layer03` (at least two digits, more for >= 100 layers)."""
    digits = max(2, len(str(num_layers - 1)))
    return f'layer{str(index).zfill(digits)}'


def module_names(modules: List[ModuleSpec]) -> List[str]:
    """`conv`, `gffn1`, `attention`, `gffn2`: a type that repeats in a layer is numbered from 1."""
    total: Dict[str, int] = {}
    seen: Dict[str, int] = {}
    for m in modules:
        total[m['type']] = total.get(m['type'], 0) + 1
    out = []
    for m in modules:
        seen[m['type']] = seen.get(m['type'], 0) + 1
        out.append(f"{m['type']}{seen[m['type']]}" if total[m['type']] > 1 else m['type'])
    return out


def module_prefixes(layer: Dict[str, Any], num_layers: int) -> List[str]:
    name = layer_name(int(layer['index']), num_layers)
    return [f'{name}/{n}' for n in module_names(layer['modules'])]


def gffn_has_mixer(m: ModuleSpec) -> bool:
    """A GFFN has its H×H mixer only when asked for and the down-projection is really grouped."""
    return bool(m['mixer']) and int(m['groups']) > 1


def _need(ok: bool, message: str) -> None:
    if not ok:
        raise ModelSpecError(message)


def check_model_spec(model: ModelSpec) -> None:
    """Raises ModelSpecError unless every size divides as the modules need (params.ts checkModelSpec)."""
    H = model['hiddenSize']
    _need(isinstance(H, int) and H > 0, f'hiddenSize must be a positive whole number, got {H}')
    heads = model['heads']
    _need(bool(heads['mlm'] or heads['nsp']), 'the model has neither an MLM nor an NSP head: there is nothing to train')
    _need(len(model['layers']) == model['numLayers'], f"the spec lists {len(model['layers'])} layers for numLayers {model['numLayers']}")
    for layer in model['layers']:
        for where, m in zip(module_prefixes(layer, model['numLayers']), layer['modules']):
            t = m['type']
            if t == 'attention':
                _need(H % m['heads'] == 0, f"{where}: hidden size {H} is not divisible by {m['heads']} heads")
            elif t == 'conv':
                _need(H % m['channelsPerGroup'] == 0, f"{where}: hidden size {H} is not divisible by channelsPerGroup {m['channelsPerGroup']}")
                _need(m['kernelSize'] >= 1, f'{where}: kernelSize must be >= 1')
                _need(m['padding'] in ('same', 'causal'), f"{where}: padding must be same or causal, got {m['padding']}")
            elif t == 'gffn':
                _need(m['intermediateSize'] % m['groups'] == 0, f"{where}: intermediate size {m['intermediateSize']} is not divisible by {m['groups']} groups")
                _need(H % m['groups'] == 0, f"{where}: hidden size {H} is not divisible by {m['groups']} groups")
            elif t != 'ffn':
                raise ModelSpecError(f'{where}: unknown module type {t!r}')
    _need(model['activation'] in ('gelu', 'gelu_tanh', 'relu', 'swish'), f"unknown activation {model['activation']!r}")
    _need(model['normPlacement'] in ('pre', 'post'), f"normPlacement must be pre or post, got {model['normPlacement']!r}")


def module_parameter_shapes(prefix: str, m: ModuleSpec, model: ModelSpec) -> List[ParamSpec]:
    """The parameters of one layer module, its own LayerNorm included (params.ts moduleParameterShapes)."""
    H = int(model['hiddenSize'])
    normal = Initializer('truncatedNormal', std=float(model['initializerRange']))
    zeros = Initializer('zeros')
    ones = Initializer('ones')
    out: List[ParamSpec] = []

    def add(name: str, shape: Tuple[int, ...], init: Initializer) -> None:
        out.append(ParamSpec(f'{prefix}/{name}', tuple(int(d) for d in shape), init, prefix))

    def dense(name: str, fan_in: int, fan_out: int, bias: bool) -> None:
        add(f'{name}/kernel', (fan_in, fan_out), normal)
        if bias:
            add(f'{name}/bias', (fan_out,), zeros)

    t = m['type']
    if t == 'attention':
        for p in ('query', 'key', 'value'):
            dense(p, H, H, bool(m['qkvBias']))
        dense('output', H, H, bool(m['projectionBias']))
    elif t == 'conv':
        k, g = int(m['kernelSize']), int(m['channelsPerGroup'])
        if m['glu']:
            dense('glu_value', H, H, True)
            dense('glu_gate', H, H, True)
        add('grouped/kernel', (H // g, k * g, g), Initializer('glorotUniform', fan_in=k * g, fan_out=k * H))
        if m['bias']:
            add('grouped/bias', (H,), zeros)
        if m['norm']:
            add('inner_norm/gamma', (H,), ones)
            add('inner_norm/beta', (H,), zeros)
        dense('output', H, H, True)
    elif t == 'gffn':
        I, G = int(m['intermediateSize']), int(m['groups'])
        dense('up', H, I, True)
        add('down/kernel', (G, I // G, H // G), normal)
        add('down/bias', (H,), normal)  # the reference's quirk: trunc-normal, not zeros
        if gffn_has_mixer(m):
            dense('mixer', H, H, True)
    elif t == 'ffn':
        dense('up', H, int(m['intermediateSize']), True)
        dense('down', int(m['intermediateSize']), H, True)
    add('norm/gamma', (H,), ones)
    add('norm/beta', (H,), zeros)
    return out


def parameter_shapes(spec: Dict[str, Any]) -> List[ParamSpec]:
    """Every parameter of the model in the TF.js order: embeddings, layers, final norm, MLM head, pooler, NSP."""
    model = model_of(spec)
    try:
        check_model_spec(model)
    except KeyError as e:
        raise ModelSpecError(f'the resolved model spec has no {e.args[0]!r}') from None
    H = int(model['hiddenSize'])
    V = int(model['vocabSize'])
    normal = Initializer('truncatedNormal', std=float(model['initializerRange']))
    out: List[ParamSpec] = []

    def add(module: str, name: str, shape: Tuple[int, ...], init: Initializer) -> None:
        out.append(ParamSpec(name, tuple(int(d) for d in shape), init, module))

    def norm(module: str, prefix: str) -> None:
        add(module, f'{prefix}/gamma', (H,), Initializer('ones'))
        add(module, f'{prefix}/beta', (H,), Initializer('zeros'))

    add('embeddings', 'embeddings/word', (V, H), normal)
    add('embeddings', 'embeddings/position', (int(model['maxPositions']), H), normal)
    if int(model['tokenTypes']) > 0:
        add('embeddings', 'embeddings/token_type', (int(model['tokenTypes']), H), normal)
    norm('embeddings', 'embeddings/norm')
    for layer in model['layers']:
        for prefix, m in zip(module_prefixes(layer, int(model['numLayers'])), layer['modules']):
            out.extend(module_parameter_shapes(prefix, m, model))
    if model['normPlacement'] == 'pre':
        norm('final_norm', 'final_norm')
    heads = model['heads']
    if heads['mlm']:
        add('mlm_head', 'mlm/transform/kernel', (H, H), normal)
        add('mlm_head', 'mlm/transform/bias', (H,), Initializer('zeros'))
        norm('mlm_head', 'mlm/transform/norm')
        add('mlm_head', 'mlm/bias', (V,), Initializer('zeros'))  # the decoder itself is the word table
    if heads['pooler']:
        add('pooler', 'pooler/kernel', (H, H), normal)
        add('pooler', 'pooler/bias', (H,), Initializer('zeros'))
    if heads['nsp']:
        add('nsp_head', 'nsp/kernel', (H, 2), normal)
        add('nsp_head', 'nsp/bias', (2,), Initializer('zeros'))
    return out


def count_parameters(shapes: List[ParamSpec]) -> int:
    return sum(p.size for p in shapes)
