/**
 * The dashboard webview's HTML: a shell that loads the bundle (`dist/webview/dashboard.js`) and its stylesheet
 * under a strict Content-Security-Policy. Pure (no `vscode` import) so it can be tested in a browser as it is.
 *
 * The policy allows: images from the extension (`cspSource`) and `data:` (the PNG export draws into a canvas),
 * styles from the extension or carrying the nonce, the one nonce'd script, fonts from the extension. Nothing
 * else: no remote content, no `eval`, no inline handlers, no fetch/WebSocket (`connect-src 'none'`).
 */

export interface DashboardHtmlOptions {
  /** `webview.asWebviewUri(…/dist/webview/dashboard.js)`, as a string. */
  scriptUri: string;
  /** `webview.asWebviewUri(…/dist/webview/dashboard.css)`, as a string. */
  styleUri: string;
  /** `webview.cspSource`. */
  cspSource: string;
  /** A fresh random nonce per render (e.g. `crypto.randomBytes(16).toString('base64')`). */
  nonce: string;
  /** The document title. */
  title: string;
}

const NONCE = /^[A-Za-z0-9+/_-]{16,}={0,2}$/;
/** One CSP source expression: `'self'`, a scheme (`https:`), or a host source with optional scheme, port and path. */
const SOURCE = /^(?:'self'|[A-Za-z][A-Za-z0-9+.-]*:|(?:[A-Za-z][A-Za-z0-9+.-]*:\/\/)?(?:\*|(?:\*\.)?[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)(?::(?:\d+|\*))?(?:\/[A-Za-z0-9._~%!$&()*+=:@/-]*)?)$/;

/** Whether `cspSource` is a space-separated list of source expressions (the desktop gives one, the web workbench `'self' https://…`). */
export function isCspSourceList(cspSource: string): boolean {
  const tokens = cspSource.split(' ');
  return cspSource.length > 0 && tokens.every((t) => SOURCE.test(t));
}

/** Escapes text for an HTML attribute value or element content. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** The CSP for `cspSource` and `nonce` (exported for tests and for the host to log). */
export function dashboardCsp(cspSource: string, nonce: string): string {
  return [
    "default-src 'none'",
    `img-src ${cspSource} data:`,
    `style-src ${cspSource} 'nonce-${nonce}'`,
    `script-src 'nonce-${nonce}'`,
    `font-src ${cspSource}`,
    "connect-src 'none'",
  ].join('; ');
}

/**
 * The full HTML document. Throws `RangeError` for a nonce that is too short or has characters a CSP nonce cannot
 * hold, or a `cspSource` with characters that would change the policy (`;`, `,`, quotes, newlines).
 */
export function dashboardHtml({ scriptUri, styleUri, cspSource, nonce, title }: DashboardHtmlOptions): string {
  if (!NONCE.test(nonce)) throw new RangeError('dashboardHtml: the nonce must be at least 16 base64 characters (use crypto.randomBytes(16).toString("base64"))');
  if (!isCspSourceList(cspSource)) throw new RangeError(`dashboardHtml: cspSource "${cspSource}" is not a list of CSP source expressions`);
  const csp = dashboardCsp(cspSource, nonce);
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${escapeHtml(csp)}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${escapeHtml(styleUri)}" nonce="${escapeHtml(nonce)}">
<title>${escapeHtml(title)}</title>
</head>
<body>
<main id="app" aria-busy="true"><p class="placeholder" id="app-placeholder">Loading the dashboard…</p></main>
<script nonce="${escapeHtml(nonce)}" src="${escapeHtml(scriptUri)}"></script>
</body>
</html>
`;
}
