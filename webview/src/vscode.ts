/**
 * The one `acquireVsCodeApi()` call (it may be called once per page), kept in this module and not in a global.
 * Outside VS Code (a plain browser), posts go nowhere and state lives in memory.
 */
import { fromWebview, type FromWebviewBody, type FromWebviewMessage } from '../../src/protocol/webview';

interface VsCodeApi {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState<T>(state: T): T;
}

declare const acquireVsCodeApi: (() => VsCodeApi) | undefined;

export interface Host {
  post(body: FromWebviewBody): void;
  getState(): unknown;
  setState(state: unknown): void;
}

export function connectHost(): Host {
  let api: VsCodeApi | undefined;
  try {
    api = typeof acquireVsCodeApi === 'function' ? acquireVsCodeApi() : undefined;
  } catch {
    api = undefined;
  }
  let memory: unknown;
  return {
    post(body) {
      const message: FromWebviewMessage = fromWebview(body);
      api?.postMessage(message);
    },
    getState() {
      return api ? api.getState() : memory;
    },
    setState(state) {
      if (api) api.setState(state);
      else memory = state;
    },
  };
}
