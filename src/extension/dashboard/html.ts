/**
 * The panel's HTML: `dashboardHtml` (webview-html.ts: the strict CSP, a nonce'd script) for the webview's
 * `cspSource`. Pure (tested without VS Code).
 *
 * The desktop app's `cspSource` is one host source (`https://*.vscode-cdn.net`); the web workbench (code-server,
 * vscode.dev) gives a list such as `'self' https://*.vscode-cdn.net`, which `dashboardHtml` refuses. A list whose
 * every token is a well-formed source expression is put in place of a placeholder source in the finished document.
 */
import { dashboardHtml, escapeHtml } from '../webview-html';

/** One CSP source expression: `'self'`, a scheme (`data:`), or a host source with optional scheme, port and path. */
const SOURCE = /^(?:'self'|[A-Za-z][A-Za-z0-9+.-]*:|(?:[A-Za-z][A-Za-z0-9+.-]*:\/\/)?(?:\*|(?:\*\.)?[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)(?::(?:\d+|\*))?(?:\/[A-Za-z0-9._~%!$&()*+=:@/-]*)?)$/;
const PLACEHOLDER = 'https://convbert-csp-source.invalid';

export function isCspSourceList(text: string): boolean {
  const tokens = text.split(' ');
  return tokens.length > 0 && tokens.every((t) => SOURCE.test(t));
}

export interface PanelHtmlOptions {
  scriptUri: string;
  styleUri: string;
  nonce: string;
  title: string;
}

export function panelHtml(cspSource: string, options: PanelHtmlOptions): string {
  try {
    return dashboardHtml({ ...options, cspSource });
  } catch (e) {
    if (!(e instanceof RangeError) || !isCspSourceList(cspSource)) throw e;
    return dashboardHtml({ ...options, cspSource: PLACEHOLDER }).split(PLACEHOLDER).join(escapeHtml(cspSource));
  }
}
