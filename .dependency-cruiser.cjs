// The layers, bottom to top (an import may only point down); `npm run lint:deps` (part of `npm run lint` and so of
// `npm test`) fails on any violation. README.md ("Layout") describes the folders.
//
//   src/format/      number, byte, duration and FLOP formatting for the CLI, the extension and the webview (a leaf)
//   src/core/        pure TypeScript: rng, batch, json, spec, cost, validate, data, model, ops, train (imports
//                    src/format only, of ours); no cycles between its folders, model never imports train
//   src/protocol/    messages trainer ⇄ host and host ⇄ webview, with validators (imports core types, format)
//   src/run-format/  the run directory: run.json, metrics.jsonl, checkpoints, probe files (imports protocol, core)
//   src/engines/     the engine interface and registry, the host-side job client; engines/trainer/ the trainer
//                    process every engine runs (loop, run directory, protocol); engines/tfjs/ the TF.js engine,
//                    engines/torch/ the PyTorch engine (a proxy job for Python workers): rooms that never import
//                    each other, and the trainer imports neither
//   src/cli/, src/extension/   the top; the extension never imports the CLI; nothing imports the extension
//   webview/src/     the dashboard app: imports src/protocol and src/format only
//
// Type-only imports count (`tsPreCompilationDeps`): a type is a dependency of the layer that declares it.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      comment: 'No import cycle between modules.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-folder-cycles',
      comment: 'No import cycle between folders (e.g. core/spec ⇄ core/cost, core/model ⇄ core/train).',
      severity: 'error',
      scope: 'folder',
      from: {},
      to: { circular: true },
    },
    {
      name: 'format-is-a-leaf',
      comment: 'src/format imports nothing of ours: the CLI, the extension and the webview all use it.',
      severity: 'error',
      from: { path: '^src/format/' },
      to: { path: '^(src|webview)/', pathNot: '^src/format/' },
    },
    {
      name: 'core-is-pure',
      comment: 'src/core imports only src/format of ours: no protocol, run format, engines, CLI or extension.',
      severity: 'error',
      from: { path: '^src/core/' },
      to: { path: '^(src|webview)/', pathNot: '^src/(core|format)/' },
    },
    {
      name: 'model-not-train',
      comment: 'The model is below training: core/model never imports core/train.',
      severity: 'error',
      from: { path: '^src/core/model/' },
      to: { path: '^src/core/train/' },
    },
    {
      name: 'protocol-below-runs-and-engines',
      comment: 'src/protocol imports core (types) and format only.',
      severity: 'error',
      from: { path: '^src/protocol/' },
      to: { path: '^(src|webview)/', pathNot: '^src/(protocol|core|format)/' },
    },
    {
      name: 'run-format-below-engines',
      comment: 'src/run-format imports protocol, core and format only.',
      severity: 'error',
      from: { path: '^src/run-format/' },
      to: { path: '^(src|webview)/', pathNot: '^src/(run-format|protocol|core|format)/' },
    },
    {
      name: 'engines-below-apps',
      comment: 'src/engines never imports the CLI, the extension or the webview.',
      severity: 'error',
      from: { path: '^src/engines/' },
      to: { path: '^(src/(cli|extension)|webview)/' },
    },
    {
      name: 'engine-rooms-apart',
      comment: 'An engine folder (src/engines/tfjs, src/engines/torch) never imports another engine: what they share lives in src/engines/trainer or below.',
      severity: 'error',
      from: { path: '^src/engines/(tfjs|torch)/' },
      to: { path: '^src/engines/(tfjs|torch)/', pathNot: '^src/engines/$1/' },
    },
    {
      name: 'trainer-engine-neutral',
      comment: 'The trainer (src/engines/trainer) is every engine\'s: it imports no engine folder (engines hand it their job and backends).',
      severity: 'error',
      from: { path: '^src/engines/trainer/' },
      to: { path: '^src/engines/(tfjs|torch)/' },
    },
    {
      name: 'extension-not-cli',
      comment: 'The extension does not import the CLI: what both need lives lower (engines, run-format, format).',
      severity: 'error',
      from: { path: '^src/extension/' },
      to: { path: '^src/cli/' },
    },
    {
      name: 'nothing-imports-extension',
      comment: 'src/extension is the top: only its own files import it.',
      severity: 'error',
      from: { pathNot: '^src/extension/' },
      to: { path: '^src/extension/' },
    },
    {
      name: 'webview-not-core',
      comment: 'The webview reaches the core only through src/protocol (types) and src/format.',
      severity: 'error',
      from: { path: '^webview/' },
      to: { path: '^src/', pathNot: '^src/(protocol|format)/' },
    },
    {
      name: 'only-extension-imports-vscode',
      comment: 'Only src/extension imports `vscode` (it resolves to @types/vscode: the editor provides the module).',
      severity: 'error',
      from: { pathNot: '^src/extension/' },
      to: { path: '(^|/)node_modules/@types/vscode/|^vscode$' },
    },
  ],
  options: {
    // Packages are leaves: their own imports are not followed (but imports of them are kept, for the vscode rule).
    doNotFollow: { path: '(^|/)node_modules/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
  },
};
