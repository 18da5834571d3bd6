/** The "ConvBERT" LogOutputChannel (respects the user's log level), with the trainer's lines routed by level. */
import * as vscode from 'vscode';
import type { LogLevel } from '../protocol';

export type Log = vscode.LogOutputChannel;

export function createLog(): Log {
  return vscode.window.createOutputChannel('ConvBERT', { log: true });
}

export function logAt(log: Log, level: LogLevel, message: string): void {
  switch (level) {
    case 'debug':
      log.debug(message);
      return;
    case 'info':
      log.info(message);
      return;
    case 'warn':
      log.warn(message);
      return;
    case 'error':
      log.error(message);
      return;
  }
}
