/**
 * The dashboard: tabs for Loss, Costs and Attention vs Conv; the message loop (validate, apply, re-render what
 * changed); theme tracking; view-state persistence. Renders are batched into one per animation frame and only
 * the visible tab draws; the others catch up when shown.
 */
import '@vscode-elements/elements/dist/vscode-tab-header/index.js';
import '@vscode-elements/elements/dist/vscode-tab-panel/index.js';
import '@vscode-elements/elements/dist/vscode-tabs/index.js';
import type { LogLevel } from '../../src/protocol/messages';
import { parseToWebviewMessage, type ToWebviewMessage } from '../../src/protocol/webview';
import { applyChartDefaults } from './charts';
import type { AppContext, View } from './context';
import { h, replaceChildren } from './dom';
import { chartInfo, installInspection } from './inspect';
import { DataStore, TABS, sanitizeViewState, type ChangeKind, type TabId } from './state';
import { readTheme, watchTheme, type Theme } from './theme';
import { AttentionView } from './views/attention';
import { CostsView } from './views/costs';
import { LossView } from './views/loss';
import { SweepView } from './views/sweep';
import { connectHost } from './vscode';

const TAB_TITLES: Record<TabId, string> = { loss: 'Loss', costs: 'Costs', attention: 'Attention vs Conv', sweep: 'Sweep' };
/** Dropped-message reasons kept for inspection. */
const MAX_DROPPED = 50;

export function startDashboard(root: HTMLElement = document.getElementById('app') ?? document.body): void {
  const host = connectHost();
  const store = new DataStore();
  const view = sanitizeViewState(host.getState());
  let theme: Theme = readTheme();
  applyChartDefaults(theme);
  const dropped: string[] = [];
  const renders: Record<TabId, number> = { loss: 0, costs: 0, attention: 0, sweep: 0 };

  const log = (level: LogLevel, message: string) => {
    try {
      host.post({ type: 'log', level, message: message.slice(0, 4000) });
    } catch {
      // Nothing more to do: the log is the last resort.
    }
  };
  const ctx: AppContext = {
    store,
    view,
    host,
    theme: () => theme,
    saveView: () => host.setState(view),
    log,
    exportFile: (kind, name, data) => host.post({ type: 'exportFile', kind, name, data }),
  };
  host.setState(view);

  const views: Record<TabId, View> = { loss: new LossView(ctx), costs: new CostsView(ctx), attention: new AttentionView(ctx), sweep: new SweepView(ctx) };
  const dirty = new Set<TabId>(TABS);
  let frame = 0;
  let settleWaiters: (() => void)[] = [];

  const flush = () => {
    frame = 0;
    const tab = view.tab;
    if (dirty.has(tab)) {
      dirty.delete(tab);
      try {
        views[tab].render();
        renders[tab]++;
      } catch (e) {
        const message = `the ${TAB_TITLES[tab]} view failed to render: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`;
        console.error(message);
        log('error', message);
      }
    }
    const waiters = settleWaiters;
    settleWaiters = [];
    for (const w of waiters) w();
  };
  const schedule = () => {
    if (frame === 0) frame = requestAnimationFrame(flush);
  };
  const invalidate = (...tabs: TabId[]) => {
    for (const t of tabs) dirty.add(t);
    schedule();
  };

  store.onChange((what: ChangeKind) => {
    switch (what) {
      case 'runs':
        invalidate('loss', 'attention', 'sweep');
        break;
      case 'selection':
        invalidate('loss', 'attention');
        break;
      case 'points':
        invalidate('loss', 'sweep');
        break;
      case 'sweeps':
        invalidate('sweep');
        break;
      case 'costs':
        invalidate('costs');
        break;
      case 'probes':
        invalidate('attention');
        break;
    }
  });

  // Tabs.
  const tabs = h('vscode-tabs', { panel: true, 'aria-label': 'Dashboard views' });
  for (const id of TABS) {
    tabs.append(h('vscode-tab-header', { slot: 'header', 'data-tab': id }, TAB_TITLES[id]), h('vscode-tab-panel', { panel: true, 'data-tab': id }, views[id].element));
  }
  tabs.selectedIndex = TABS.indexOf(view.tab);
  const showTab = (tab: TabId) => {
    if (tab === view.tab) return;
    view.tab = tab;
    ctx.saveView();
    schedule();
  };
  tabs.addEventListener('vsc-tabs-select', (e) => {
    const tab = TABS[e.detail.selectedIndex];
    if (tab) showTab(tab);
  });
  replaceChildren(root, tabs);
  root.removeAttribute('aria-busy');

  watchTheme(() => {
    theme = readTheme();
    applyChartDefaults(theme);
    invalidate(...TABS);
  });

  const apply = (m: ToWebviewMessage) => {
    switch (m.type) {
      case 'snapshot':
        store.applySnapshot(m);
        return true;
      case 'run':
        store.upsertRun(m.run);
        return true;
      case 'metrics':
        return store.mergePoints(m.runId, m.points);
      case 'eval':
        return store.mergeEval(m);
      case 'probeIndex':
        return store.setProbeSteps(m.runId, m.steps);
      case 'probe':
        if (!store.run(m.runId)) return false;
        store.addProbe(m);
        return true;
      case 'probeMissing':
        store.probeMissing(m.runId, m.step, m.reason);
        return true;
      case 'costs':
        store.setCosts(m.costs);
        return true;
      case 'theme':
        theme = readTheme();
        applyChartDefaults(theme);
        invalidate(...TABS);
        return true;
      case 'sweeps':
        store.setSweeps(m.sweeps);
        return true;
      case 'showView':
        // As if the user had clicked the tab: selected, persisted, rendered if it has anything new.
        tabs.selectedIndex = TABS.indexOf(m.view);
        showTab(m.view);
        return true;
    }
  };

  const drop = (reason: string) => {
    dropped.push(reason);
    if (dropped.length > MAX_DROPPED) dropped.shift();
    log('warn', `dashboard dropped a message: ${reason}`);
  };

  window.addEventListener('message', (event: MessageEvent) => {
    const parsed = parseToWebviewMessage(event.data);
    if (!parsed.ok) {
      drop(parsed.error);
      return;
    }
    try {
      if (!apply(parsed.message)) {
        const m = parsed.message as { type: string; runId?: string };
        drop(`\`${m.type}\` message for unknown run "${String(m.runId).slice(0, 64)}"`);
      }
    } catch (e) {
      drop(`\`${parsed.message.type}\` message could not be applied: ${e instanceof Error ? e.message : String(e)}`);
    }
  });

  installInspection({
    charts: chartInfo,
    view: () => structuredClone(view),
    dropped: () => [...dropped],
    renders: () => ({ ...renders }),
    settled: () =>
      new Promise<void>((resolve) => {
        if (frame === 0 && !dirty.has(view.tab)) resolve();
        else {
          settleWaiters.push(resolve);
          schedule();
        }
      }),
  });

  // First paint before any data: the empty states.
  flush();
  host.post({ type: 'ready' });
}
