#!/usr/bin/env node
import { setFlagsFromString } from 'node:v8';

// Set before the CLI loads; flags given in NODE_OPTIONS or on the command line win.
const given = `${process.env.NODE_OPTIONS ?? ''} ${process.execArgv.join(' ')}`;
// WebAssembly (undici's HTTP parser) stays on V8's baseline compiler. Its optimizing tier
// recompiles the parser in the background once it is hot: ~25 MB more peak memory during a
// transfer, and a run that ends while it compiles waits for it at exit (0.1–0.2 s), all to parse
// a few hundred small responses a little faster.
if (!/liftoff/.test(given)) setFlagsFromString('--liftoff-only');
// V8's heap kept close to what is live: the young generation stays at its first size (1 MB a
// semi-space) instead of growing to 16 MB, and the old generation grows by 10% past what a full
// collection left instead of V8's default (up to 2x). A run over 100,000 files allocates
// steadily and little of it lives long: the grown young generation was ~45 MB of the peak RSS,
// and the old generation's slack made the peak swing with load (a dry run of 300,000 files: 178
// to 256 MB; now ~178 MB, and 100,000 files ~102 MB instead of 162 MB), no slower.
if (!/semi[-_]space/.test(given)) setFlagsFromString('--semi-space-growth-factor=1');
if (!/heap[-_]growing/.test(given)) setFlagsFromString('--heap-growing-percent=10');

// One bundled file set (dist/bundle) starts far faster than hundreds of small modules.
const { main } = await import('../dist/bundle/main.mjs');

// A reader that goes away (`batchup manifest urls m.json | head`) is not an error of ours: stop
// writing to it and finish the run (the manifest is still written), instead of a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err) => {
    if (err.code !== 'EPIPE' && err.code !== 'ERR_STREAM_DESTROYED') throw err;
  });
}

main(process.argv).then((code) => {
  process.exitCode = code;
  // 'beforeExit' comes only once nothing is left to do (every write flushed, every file closed):
  // exiting then skips Node's teardown of the environment and the heap, ~10 ms of every run.
  process.once('beforeExit', () => process.exit());
});
