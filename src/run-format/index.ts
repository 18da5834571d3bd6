/**
 * The run format: the contract every engine keeps and every reader (CLI, extension, dashboard) reads through.
 *
 *   schema.ts           the shapes, as TypeBox (run.json, metrics.jsonl events, checkpoint manifest, probe header),
 *                       written out as schemas/*.schema.json for engines in other languages
 *   run-dir.ts          the run directory: its files, run ids, run.json (validated on read), the lock, listing runs
 *   metrics.ts          metrics.jsonl: append, read back (validated), truncate on resume; the step meter
 *   totals.ts           tokens, training FLOPs and training time through each kept step (the compute axes)
 *   eval-curve.ts       each kept evaluation with the totals through its step (the sweep report's curves)
 *   checkpoint.ts       checkpoints/: atomic write, verified read, latest pointer, pruning
 *   checkpoint-name.ts  checkpoint directory names (TF.js-free, for the extension host)
 *   probes.ts           probes/: file names, write, read (the bytes are core/train/probe-format.ts)
 *   fs-errors.ts        file-system errors as sentences
 *
 * The extension host imports the modules it needs one by one, not this index: checkpoint.ts loads TF.js (through
 * core/train/tensors.ts), which the extension bundle must not contain (test/extension/unit/host.test.ts).
 */
export * from './schema';
export * from './run-dir';
export * from './metrics';
export * from './totals';
export * from './eval-curve';
export * from './checkpoint';
export * from './checkpoint-name';
export * from './probes';
export * from './fs-errors';
