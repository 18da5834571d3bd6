/**
 * Loading a native TensorFlow binding (tfjs-node, tfjs-node-gpu): optional add-ons, only touched through the
 * `ModuleResolver`, and checked with a smoke test before they are used.
 */
import * as tf from '@tensorflow/tfjs';
import { setBackendTraits } from '../../../core/ops/traits';
import { firstLine, type BackendDeclaration, type LoadContext, type LoadOutcome } from './backend';
import { smokeTest } from './smoke';

export async function loadNative(decl: BackendDeclaration & { requires: NonNullable<BackendDeclaration['requires']> }, ctx: LoadContext): Promise<LoadOutcome> {
  const { package: pkg, hint } = decl.requires;
  const fail = (reason: string): LoadOutcome => ({ attempt: { name: decl.name, ok: false, reason } });
  let entry: string | undefined;
  try {
    entry = ctx.resolver.resolve(pkg);
  } catch (err) {
    return fail(`${pkg} could not be resolved: ${firstLine(err)}`);
  }
  if (!entry) return fail(`${pkg} is not installed (npm i ${pkg} ${hint})`);
  try {
    await ctx.resolver.load(pkg);
  } catch (err) {
    return fail(`${pkg} is installed but failed to load: ${firstLine(err)}`);
  }
  if (tf.findBackendFactory(decl.tfBackendName) == null) {
    return fail(
      `${pkg} loaded but registered no '${decl.tfBackendName}' backend with this @tensorflow/tfjs (${tf.version.tfjs}); ` +
        'its version probably differs — install the matching version',
    );
  }
  let ok: boolean;
  try {
    ok = await tf.setBackend(decl.tfBackendName);
  } catch (err) {
    return fail(`${pkg} loaded but its backend failed to start: ${firstLine(err)}`);
  }
  if (!ok) return fail(`${pkg} loaded but its backend failed to start`);
  try {
    await smokeTest();
  } catch (err) {
    return fail(`${pkg} loaded but failed a smoke test: ${firstLine(err)}`);
  }
  setBackendTraits(decl.tfBackendName, decl.traits);
  return { attempt: { name: decl.name, ok: true } };
}
