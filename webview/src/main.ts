/** The dashboard webview's entry: `dist/webview/dashboard.js` (+ `dashboard.css`), loaded by `dashboardHtml`. */
import './styles.css';
import { startDashboard } from './app';

// Lit adopts constructable stylesheets (not subject to style-src); should it ever fall back to <style> elements,
// they carry this script's nonce and pass the CSP.
const nonce = (document.currentScript as HTMLScriptElement | null)?.nonce;
if (nonce) (window as unknown as { litNonce?: string }).litNonce = nonce;

startDashboard();
