/**
 * The presets of groupbert.md §6: BERT in the HF `BertForPreTraining` layout, GroupBERT as in Graphcore's
 * PyTorch port (qkv bias and conv bias on), both with MLM, NSP and pooler heads and a 30522-word vocabulary.
 */
import type { ModuleSpec, SpecFile } from './schema';
import { PRESET_NAMES, PRESET_SUMMARIES, type PresetName } from './preset-names';

interface Size {
  layers: number;
  hidden: number;
  heads: number;
}

const BERT_LAYER: ModuleSpec[] = [{ type: 'attention' }, { type: 'ffn' }];
const GROUPBERT_LAYER: ModuleSpec[] = [
  { type: 'conv', kernelSize: 7, channelsPerGroup: 16 },
  { type: 'gffn', groups: 4 },
  { type: 'attention' },
  { type: 'gffn', groups: 4 },
];

function bert(size: Size): SpecFile {
  return {
    version: 1,
    model: {
      vocabSize: 30522,
      maxPositions: 512,
      tokenTypes: 2,
      hiddenSize: size.hidden,
      numLayers: size.layers,
      numHeads: size.heads,
      layerNormEps: 1e-12,
      normPlacement: 'post',
      hiddenDropout: 0.1,
      attentionDropout: 0.1,
      activation: 'gelu',
      initializerRange: 0.02,
      heads: { mlm: true, nsp: true, pooler: true },
      layer: { modules: BERT_LAYER },
    },
    training: {
      optimizer: { type: 'adamw', beta1: 0.9, beta2: 0.999, epsilon: 1e-6, biasCorrection: true },
      learningRate: { peak: 1e-4, warmupSteps: 100, warmupPower: 1, decay: 'linear' },
    },
  };
}

function groupbert(size: Size): SpecFile {
  return {
    version: 1,
    model: {
      vocabSize: 30522,
      maxPositions: 512,
      tokenTypes: 2,
      hiddenSize: size.hidden,
      numLayers: size.layers,
      numHeads: size.heads,
      layerNormEps: 1e-3,
      normPlacement: 'pre',
      hiddenDropout: 0,
      attentionDropout: 0,
      activation: 'gelu',
      initializerRange: 0.02,
      heads: { mlm: true, nsp: true, pooler: true },
      layer: { modules: GROUPBERT_LAYER },
    },
    training: {
      // The reference AdamW recipe turns bias correction off, which only works with its 10k-step warmup;
      // short runs stall without it, so the presets keep it on.
      optimizer: { type: 'adamw', beta1: 0.9, beta2: 0.999, epsilon: 1e-6, biasCorrection: true },
      learningRate: { peak: 8e-4, warmupSteps: 100, warmupPower: 1, decay: 'linear' },
    },
  };
}

export const PRESETS: Record<PresetName, SpecFile> = {
  'bert-tiny': bert({ layers: 2, hidden: 128, heads: 2 }),
  'bert-mini': bert({ layers: 4, hidden: 256, heads: 4 }),
  'bert-small': bert({ layers: 4, hidden: 512, heads: 8 }),
  'bert-medium': bert({ layers: 8, hidden: 512, heads: 8 }),
  'bert-base': bert({ layers: 12, hidden: 768, heads: 12 }),
  'bert-large': bert({ layers: 24, hidden: 1024, heads: 16 }),
  'groupbert-tiny': groupbert({ layers: 2, hidden: 128, heads: 2 }),
  'groupbert-mini': groupbert({ layers: 4, hidden: 256, heads: 4 }),
  'groupbert-medium': groupbert({ layers: 8, hidden: 512, heads: 8 }),
  'groupbert-base': groupbert({ layers: 12, hidden: 768, heads: 12 }),
  'groupbert-large': groupbert({ layers: 24, hidden: 1024, heads: 16 }),
};

export { PRESET_NAMES, PRESET_SUMMARIES };
export type { PresetName };

/** The text of a new spec file that extends a preset (what `convbert new` writes and the editor snippets insert). */
export function presetSpecText(preset: PresetName, name: string = preset): string {
  return `${JSON.stringify({ version: 1, name, extends: preset }, null, 2)}\n`;
}
