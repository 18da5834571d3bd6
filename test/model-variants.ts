/**
 * Model variants that reach every branch of the model, shared by the tests that hold one implementation to another
 * (PyTorch parity, webgpu against wasm). Model overrides only: each test sets its own vocabulary and positions.
 */
import type { SpecFile } from '../src/core/spec';

export interface ModelVariant {
  extends: 'bert-tiny' | 'groupbert-tiny';
  model: NonNullable<SpecFile['model']>;
}

/** GroupBERT with causal even-kernel convolutions, tanh-GELU and a GFFN without its mixer. */
export const CAUSAL_GROUPBERT: ModelVariant = {
  extends: 'groupbert-tiny',
  model: {
    activation: 'gelu_tanh',
    layer: {
      modules: [
        { type: 'conv', kernelSize: 4, channelsPerGroup: 16, padding: 'causal' },
        { type: 'gffn', groups: 4, mixer: false },
        { type: 'attention' },
        { type: 'gffn', groups: 2 },
      ],
    },
  },
};

/**
 * The rarer branches: post-norm conv without GLU, inner norm or bias (even kernel, same padding), attention without
 * biases, two attention modules in one layer, an ungrouped GFFN, swish, no token types, NSP without a pooler.
 */
export const EXOTIC: ModelVariant = {
  extends: 'bert-tiny',
  model: {
    tokenTypes: 0,
    activation: 'swish',
    hiddenDropout: 0,
    attentionDropout: 0,
    heads: { mlm: true, nsp: true, pooler: false },
    layer: {
      modules: [
        { type: 'conv', kernelSize: 4, channelsPerGroup: 32, glu: false, norm: false, bias: false, padding: 'same' },
        { type: 'attention', heads: 4, qkvBias: false, projectionBias: false },
        { type: 'gffn', groups: 1, mixer: true },
        { type: 'ffn', intermediateSize: 96 },
      ],
    },
    layerOverrides: [{ layers: [1], modules: [{ type: 'attention' }, { type: 'attention', heads: 8 }, { type: 'gffn', groups: 8 }] }],
  },
};
