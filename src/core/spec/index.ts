/** The spec API in one place: the schema and its types, presets, resolution, artifacts and validation. */
export * from './schema';
export * from './preset-names';
export { PRESETS, presetSpecText } from './presets';
export * from './resolve';
export * from './artifacts';
export * from './diagnostics';
export { checkLayerOverrides, checkSemantics, MAX_SENSIBLE_PARAMS, type SemanticFinding, type SemanticOptions } from './semantic';
export { MAX_DEPTH, MAX_DIAGNOSTICS, validateSpecText, type ValidateOptions, type ValidationResult } from './validate';
