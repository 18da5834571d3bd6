/**
 * Validation of a spec file, above both `core/spec` (the schema, resolution, diagnostics) and `core/cost` (the size
 * and memory checks need the cost model, and the cost model reads resolved specs): from text to diagnostics.
 */
export { checkLayerOverrides, checkSemantics, MAX_SENSIBLE_PARAMS, type SemanticFinding, type SemanticOptions } from './semantic';
export { MAX_DEPTH, MAX_DIAGNOSTICS, checkJsoncText, formatDiagnostic, validateSpecText, type CheckedJsonc, type DiagnosticAnchor, type JsoncFormat, type ValidateOptions, type ValidationResult } from './validate';
