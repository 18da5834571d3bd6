/** The trainer's backend step: the chooser of ./backends (in the registry's order), its report put in the protocol's shape. */
import { BACKEND_CHAIN, describeBackend, loadBackend, type BackendPreference } from '../backends';
import type { BackendLoader } from '../../trainer/loop';
import { TrainerError } from '../../trainer/errors';

export type { BackendLoader };

export const loadTrainerBackend: BackendLoader = async (requested, log) => {
  if (requested !== 'auto' && !(BACKEND_CHAIN as readonly string[]).includes(requested)) {
    throw new TrainerError(`unknown backend "${requested}"`, `use one of auto, ${BACKEND_CHAIN.join(', ')}`);
  }
  const report = await loadBackend(requested as BackendPreference, { log: (m) => log('debug', m) });
  return {
    requested,
    name: report.name,
    skipped: report.tried.filter((t) => !t.ok).map((t) => ({ name: t.name, reason: t.reason ?? 'failed' })),
    details: {
      description: describeBackend(report),
      ...(report.threads !== undefined ? { threads: report.threads } : {}),
      ...(report.simd !== undefined ? { simd: report.simd } : {}),
    },
  };
};
