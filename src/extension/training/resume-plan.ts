/**
 * What resuming a run will do, said before the trainer starts: it continues from the latest checkpoint, and the
 * steps recorded after that checkpoint are trained again ("resuming at step 100; steps 101–147 were not
 * checkpointed and are retrained"). A run without a checkpoint cannot be resumed: it can only start over. Pure.
 */
import { resumingSentence } from '../../protocol';

export type ResumePlan =
  | { kind: 'resume'; checkpointStep: number; lastStep: number; retrained?: { from: number; to: number } }
  | { kind: 'no-checkpoint'; lastStep: number };

/** The plan from the latest checkpoint's step (none: `undefined`) and the last step the run recorded. */
export function resumePlan(checkpointStep: number | undefined, lastStep: number): ResumePlan {
  if (checkpointStep === undefined) return { kind: 'no-checkpoint', lastStep };
  return { kind: 'resume', checkpointStep, lastStep, ...(lastStep > checkpointStep ? { retrained: { from: checkpointStep + 1, to: lastStep } } : {}) };
}

/** "resuming at step 100; steps 101–147 were not checkpointed and are retrained". */
export function resumeLabel(plan: ResumePlan & { kind: 'resume' }): string {
  return resumingSentence(plan.checkpointStep, plan.retrained);
}

/** Why a run without a checkpoint is not resumed, and what Start over does. */
export function noCheckpointLabel(name: string, plan: ResumePlan & { kind: 'no-checkpoint' }): string {
  const when = plan.lastStep > 0 ? `it ended at step ${plan.lastStep}, before its first checkpoint` : 'it ended before its first step';
  return `${name} has no checkpoint to resume from (${when}).`;
}

export const START_OVER = 'Start over';
export const START_OVER_DETAIL = 'Start over trains the run\'s spec snapshot again from step 0, as a new run; this run and its curve stay as they are (delete it from the Runs view if you no longer need it).';
