/**
 * Entry of the trainer process (`child_process.fork`ed by `TrainerClient`; bundled as its own file). One job per
 * process; see `process.ts` and `loop.ts`.
 */
import { runTrainerProcess } from './process';

void runTrainerProcess();
