/** The spec API in one place: the schema and its types, presets, resolution, artifacts, diagnostics (validation, which needs the cost model too, is core/validate). */
export * from './schema';
export * from './preset-names';
export { PRESETS, presetSpecText } from './presets';
export * from './resolve';
export * from './artifacts';
export * from './diagnostics';
