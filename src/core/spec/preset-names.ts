/** Preset names and one-line summaries; kept apart from `presets.ts` so the schema can list them without a cycle. */
export const PRESET_NAMES = [
  'bert-tiny',
  'bert-mini',
  'bert-small',
  'bert-medium',
  'bert-base',
  'bert-large',
  'groupbert-tiny',
  'groupbert-mini',
  'groupbert-medium',
  'groupbert-base',
  'groupbert-large',
] as const;

export type PresetName = (typeof PRESET_NAMES)[number];

export const PRESET_SUMMARIES: Record<PresetName, string> = {
  'bert-tiny': 'BERT-Tiny: 2 layers, hidden 128, 2 heads (Google BERT miniature).',
  'bert-mini': 'BERT-Mini: 4 layers, hidden 256, 4 heads.',
  'bert-small': 'BERT-Small: 4 layers, hidden 512, 8 heads.',
  'bert-medium': 'BERT-Medium: 8 layers, hidden 512, 8 heads.',
  'bert-base': 'BERT-Base: 12 layers, hidden 768, 12 heads, 110.1 M parameters.',
  'bert-large': 'BERT-Large: 24 layers, hidden 1024, 16 heads, 336.2 M parameters.',
  'groupbert-tiny': 'GroupBERT-Tiny: 2 layers, hidden 128, 2 heads (the reference test config).',
  'groupbert-mini': 'GroupBERT-Mini: 4 layers, hidden 256, 4 heads.',
  'groupbert-medium': 'GroupBERT-Medium: 8 layers, hidden 512, 8 heads.',
  'groupbert-base': 'GroupBERT-Base: 12 layers, hidden 768, 12 heads, 160.8 M parameters.',
  'groupbert-large': 'GroupBERT-Large: 24 layers, hidden 1024, 16 heads, 515.6 M parameters.',
};

export function isPresetName(name: unknown): name is PresetName {
  return typeof name === 'string' && (PRESET_NAMES as readonly string[]).includes(name);
}
