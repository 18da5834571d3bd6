/**
 * Entry of the torch engine's trainer process (forked like the TF.js one; bundled as dist/torch-trainer.js): the
 * engine-neutral trainer (src/engines/trainer) driving the Python worker group.
 */
import { runTrainerProcess } from '../../trainer/process';
import { torchTrainerDeps } from './deps';

void runTrainerProcess(torchTrainerDeps());
