import type { LogLevel } from '../../src/protocol/messages';
import type { DataStore, ViewState } from './state';
import type { Theme } from './theme';
import type { Host } from './vscode';

/** What every view gets: the data, the view state (persist with `saveView`), the host, the current theme. */
export interface AppContext {
  readonly store: DataStore;
  readonly view: ViewState;
  readonly host: Host;
  /** The current theme (replaced on a theme change; read it at render time). */
  theme(): Theme;
  saveView(): void;
  log(level: LogLevel, message: string): void;
  exportFile(kind: 'png' | 'csv', name: string, data: string): void;
}

export interface View {
  readonly element: HTMLElement;
  /** Draws from the current data, view state and theme. Called only while the view's tab is shown. */
  render(): void;
}
