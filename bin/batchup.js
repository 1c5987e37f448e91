#!/usr/bin/env node
// One bundled file set (dist/bundle) starts far faster than hundreds of small modules.
import { main } from '../dist/bundle/main.mjs';

main(process.argv).then((code) => {
  process.exitCode = code;
});
