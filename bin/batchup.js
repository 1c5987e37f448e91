#!/usr/bin/env node
// One bundled file set (dist/bundle) starts far faster than hundreds of small modules.
import { main } from '../dist/bundle/main.mjs';

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
