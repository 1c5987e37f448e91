// Nightly incremental run: upload a 10,000-file tree, then run again over the unchanged tree.
// Prints both times and the second as a fraction of the first (goal < 10%).
import { join } from 'node:path';
import { BIN, startServe, timed, tmp } from './lib.js';
import { writePngs } from '../dist/devtools/generate.js';

const COUNT = Number(process.env.BENCH_COUNT ?? 10_000);
const TOKEN = 'bench-token';
const dir = tmp('batchup-bench-nightly-');
await writePngs(join(dir, 'tree'), COUNT);
const box = await startServe(['--token', TOKEN]);
const args = [BIN, 'upload', join(dir, 'tree'), '--endpoint', `${box.url}/api/vdr`, '--manifest', join(dir, 'm.json'), '--quiet'];
const env = { env: { ...process.env, BATCHUP_TOKEN: TOKEN } };
const first = await timed(process.execPath, args, env);
const second = await timed(process.execPath, args, env);
await box.stop();
console.log(`nightly run: ${COUNT} files`);
console.log(`  first run (uploads everything)   ${first.toFixed(2)} s`);
console.log(`  second run (nothing changed)     ${second.toFixed(2)} s`);
console.log(`  second / first                   ${((second / first) * 100).toFixed(1)}% (goal < 10%)`);
