/**
 * The layering batchup keeps (checked by `npm run lint`, part of `npm test`):
 *   core       — the pipeline; knows no provider, no CLI, no sandbox, no terminal library;
 *   providers  — one folder each; core only (never the CLI, the sandbox or another provider);
 *   sandbox    — the test server; may read the providers' wire contracts (contract.ts), nothing else of theirs;
 *   cli        — renders and maps exit codes; the only place commander, ora, cli-progress and conf live.
 */
const TERMINAL = '^(commander|ora|cli-progress|conf)$';
module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
    { name: 'core-knows-no-provider', severity: 'error', from: { path: '^src/core/' }, to: { path: '^src/(providers|cli|sandbox)/' } },
    { name: 'core-no-terminal-libraries', severity: 'error', from: { path: '^src/core/' }, to: { dependencyTypes: ['npm'], path: TERMINAL } },
    { name: 'providers-no-cli-or-sandbox', severity: 'error', from: { path: '^src/providers/' }, to: { path: '^src/(cli|sandbox)/' } },
    { name: 'providers-no-terminal-libraries', severity: 'error', from: { path: '^src/providers/' }, to: { dependencyTypes: ['npm'], path: TERMINAL } },
    {
      name: 'one-folder-per-provider',
      comment: 'a provider never reaches into another provider',
      severity: 'error',
      from: { path: '^src/providers/([^/]+)/' },
      to: { path: '^src/providers/', pathNot: ['^src/providers/$1/'] },
    },
    {
      name: 'sandbox-reads-contracts-only',
      severity: 'error',
      from: { path: '^src/sandbox/' },
      to: { path: '^src/(providers|cli)/', pathNot: '^src/providers/[^/]+/contract\\.ts$' },
    },
    { name: 'sandbox-no-terminal-libraries', severity: 'error', from: { path: '^src/sandbox/' }, to: { dependencyTypes: ['npm'], path: TERMINAL } },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'], extensions: ['.ts', '.js'] },
  },
};
