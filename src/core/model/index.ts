/**
 * The BERT / GroupBERT pretraining model in TF.js, module by module (one file each, nanoGPT-style):
 * `params` (names, shapes, initialisers), `embeddings`, `attention`, `conv`, `ffn` (ffn + gffn), `heads`,
 * `encoder`, and `build` (`buildModel(spec, { seed })`).
 */
export {
  ModelSpecError,
  checkModelSpec,
  countParameters,
  createVariables,
  gffnHasMixer,
  initialValues,
  layerName,
  moduleNames,
  moduleParameterShapes,
  modulePrefixes,
  paramsOf,
  parameterShapes,
  sizeOfShape,
  type Initializer,
  type ParamSpec,
  type Params,
} from './params';
export { Dropout, activate, type AttentionProbe, type ForwardContext } from './common';
export { embeddings } from './embeddings';
export { attentionModule, attentionCoreDropout } from './attention';
export { convModule } from './conv';
export { ffnModule, gffnModule } from './ffn';
export { mlmHead, poolerAndNsp, tiedDecoder, flatPositions } from './heads';
export { applyModule, encoder, encoderLayer } from './encoder';
export {
  Model,
  buildModel,
  forwardModel,
  inputsFromBatch,
  isHostBatch,
  lossOf,
  type BuildOptions,
  type ForwardOptions,
  type LossOutput,
  type ModelInputs,
  type ModelOutput,
} from './build';
