/**
 * The largest single buffers of a training step, for devices that cap one buffer (WebGPU's
 * `maxStorageBufferBindingSize`: 128 MiB by default and on lavapipe, 2 GiB − 4 on an H200) rather than, or as well
 * as, the total. float32 throughout, one micro-batch (`batchSize`): the word-embedding table (its gradient and
 * moments are the same size), the attention scores of a layer, an FFN's intermediate activations, a grouped
 * convolution's patches (kernel × hidden per token) and the MLM logits at the masked positions. Pure.
 */
import type { ResolvedSpec } from '../spec/resolve';

export interface BufferEstimate {
  /** What it holds, with its shape, e.g. "the attention scores [32, 12, 128, 128]". */
  what: string;
  bytes: number;
}

const F32 = 4;

/** The step's buffers worth checking, largest first. */
export function stepBuffers(spec: ResolvedSpec): BufferEstimate[] {
  const m = spec.model;
  const t = spec.training;
  const B = t.batchSize;
  const S = t.sequenceLength;
  const H = m.hiddenSize;
  const P = Math.min(t.maxPredictions, S);
  const out: BufferEstimate[] = [
    { what: `the word embeddings [${m.vocabSize}, ${H}]`, bytes: m.vocabSize * H * F32 },
    { what: `the hidden states [${B}, ${S}, ${H}]`, bytes: B * S * H * F32 },
  ];
  if (m.heads.mlm) out.push({ what: `the MLM logits [${B * P}, ${m.vocabSize}]`, bytes: B * P * m.vocabSize * F32 });
  const seen = new Set<string>();
  for (const layer of m.layers) {
    for (const mod of layer.modules) {
      let b: BufferEstimate | undefined;
      if (mod.type === 'attention') b = { what: `the attention scores [${B}, ${mod.heads}, ${S}, ${S}]`, bytes: B * mod.heads * S * S * F32 };
      else if (mod.type === 'ffn' || mod.type === 'gffn') b = { what: `the ${mod.type === 'ffn' ? 'FFN' : 'grouped FFN'} activations [${B}, ${S}, ${mod.intermediateSize}]`, bytes: B * S * mod.intermediateSize * F32 };
      else if (mod.type === 'conv') b = { what: `the grouped convolution's patches [${B}, ${S}, ${mod.kernelSize * H}]`, bytes: B * S * mod.kernelSize * H * F32 };
      if (b && !seen.has(b.what)) {
        seen.add(b.what);
        out.push(b);
      }
    }
  }
  return out.sort((a, b) => b.bytes - a.bytes);
}

/** The first buffer over `limitBytes`, or undefined when every one fits. */
export function bufferOverLimit(spec: ResolvedSpec, limitBytes: number): BufferEstimate | undefined {
  return stepBuffers(spec).find((b) => b.bytes > limitBytes);
}
