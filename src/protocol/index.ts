/** The trainer ⇄ host protocol: one module for the trainer, the CLI, the extension host and the webview. */
export * from './messages';
export * from './parse';
