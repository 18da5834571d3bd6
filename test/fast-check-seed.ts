/**
 * Imported by every test file that uses fast-check: property-based tests draw from a fixed seed, so a CI run is
 * reproducible. `FC_SEED=<n>` picks another seed, `FC_SEED=random` a fresh one each run (fast-check prints the
 * seed of any failure, so it can be replayed).
 */
import fc from 'fast-check';

const chosen = process.env.FC_SEED;
if (chosen !== 'random') fc.configureGlobal({ seed: chosen === undefined ? 20261129 : Number(chosen) });
