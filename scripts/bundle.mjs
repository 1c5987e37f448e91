// Bundles dist/ (tsc's output) into dist/bundle: one set of files with code splitting, so the CLI
// starts in a fraction of the time hundreds of small modules take (bin/batchup.js imports it).
//
// Two of the dependencies load Node modules at start-up that a run never uses; each is loaded on
// first use instead (together ~15 ms of every start, measured on `batchup upload`):
// - commander requires child_process (with net and dgram) for subcommands that are executables
//   of their own; batchup's subcommands are functions.
// - undici's HTTP/2 client requires http2 (with tls) and reads a few header-name constants from
//   it; batchup's HTTP client never offers HTTP/2 (undici's allowH2 is off), so http2 loads only
//   if a connection to it is ever made.
import { build } from 'esbuild';
import { constants } from 'node:http2';

const out = process.argv[2] ?? 'dist/bundle';

/** A module whose properties come from `name`, loaded when one is first read. */
const lazy = (name) => `let m;
module.exports = new Proxy({}, { get: (_, key) => (m ??= require(${JSON.stringify(name)}))[key] });`;

/** http2 as undici's client reads it at load time: its constants (copied here), connect on use. */
const http2 = `module.exports = {
  constants: ${JSON.stringify(constants)},
  connect: (...args) => require('node:http2').connect(...args),
};`;

const SHIMS = [
  { importer: /[\\/]node_modules[\\/]commander[\\/]/, module: 'node:child_process', contents: lazy('node:child_process') },
  { importer: /[\\/]node_modules[\\/]undici[\\/]lib[\\/]dispatcher[\\/]client-h2\.js$/, module: 'node:http2', contents: http2 },
];

const lazyBuiltins = {
  name: 'lazy-builtins',
  setup(b) {
    b.onResolve({ filter: /^node:(child_process|http2)$/ }, (a) => {
      const shim = SHIMS.findIndex((s) => s.module === a.path && s.importer.test(a.importer));
      return shim < 0 ? undefined : { path: String(shim), namespace: 'lazy-builtin' };
    });
    b.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, (a) => ({ contents: SHIMS[Number(a.path)].contents, loader: 'js' }));
  },
};

await build({
  entryPoints: ['dist/cli/main.js'],
  bundle: true,
  platform: 'node',
  format: 'esm',
  splitting: true,
  target: 'node20',
  outdir: out,
  outExtension: { '.js': '.mjs' },
  logLevel: 'warning',
  // The CommonJS dependencies call require (for Node's own modules).
  banner: { js: "import{createRequire}from'node:module';const require=createRequire(import.meta.url);" },
  plugins: [lazyBuiltins],
});
