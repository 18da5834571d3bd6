/**
 * The Python extension's selected environment (`ms-python.python`), for the torch engine's interpreter when the
 * `convbert.torch.python` setting is empty. Optional: without the extension, or when its API fails, the answer is
 * `undefined` and the engine looks for Python on this machine.
 */
import * as vscode from 'vscode';

export const PYTHON_EXTENSION_ID = 'ms-python.python';

interface PythonExtensionApi {
  environments?: { getActiveEnvironmentPath?(resource?: vscode.Uri): { path?: string } | undefined };
}

/** The interpreter the Python extension has selected for `resource`'s folder, or undefined. Never throws. */
export async function pythonExtensionEnvironment(resource: vscode.Uri | undefined): Promise<string | undefined> {
  try {
    const ext = vscode.extensions.getExtension<PythonExtensionApi>(PYTHON_EXTENSION_ID);
    if (!ext) return undefined;
    const api = ext.isActive ? ext.exports : await ext.activate();
    const found = api?.environments?.getActiveEnvironmentPath?.(resource)?.path;
    return typeof found === 'string' && found.trim() ? found.trim() : undefined;
  } catch {
    return undefined;
  }
}
