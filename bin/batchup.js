#!/usr/bin/env node
import { setFlagsFromString } from 'node:v8';

// WebAssembly (undici's HTTP parser) stays on V8's baseline compiler. Its optimizing tier
// recompiles the parser in the background once it is hot: ~25 MB more peak memory during a
// transfer, and a run that ends while it compiles waits for it at exit (0.1–0.2 s), all to parse
// a few hundred small responses a little faster. Set before any module of ours is loaded.
setFlagsFromString('--liftoff-only');

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
});
