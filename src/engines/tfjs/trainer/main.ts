/**
 * Entry of the TF.js trainer process (`child_process.fork`ed by `TrainerClient`; bundled as its own file). One job
 * per process: the engine-neutral trainer (src/engines/trainer) with the TF.js job and backends.
 */
import { runTrainerProcess } from '../../trainer/process';
import { tfjsTrainerDeps } from './deps';

void runTrainerProcess(tfjsTrainerDeps());
