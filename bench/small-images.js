// 1,000 small images: batchup vs the seed-000 Node sample client against the same sandbox, in
// one run. Prints each time and the ratio (goal ≥ 5×).
import { join } from 'node:path';
import { BIN, median, startServe, timed, tmp, vendorNodeClient } from './lib.js';
import { writePngs } from '../dist/devtools/generate.js';

const COUNT = Number(process.env.BENCH_COUNT ?? 1000);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const TOKEN = 'bench-token';

const dir = tmp('batchup-bench-imgs-');
await writePngs(join(dir, 'imgs'), COUNT);
const sample = vendorNodeClient('http://placeholder', TOKEN); // installs axios + form-data once

const ours = [];
const theirs = [];
for (let run = 0; run < RUNS; run++) {
  // A fresh sandbox per run and per client, so neither sees the other's batches.
  let box = await startServe(['--token', TOKEN]);
  ours.push(
    await timed(process.execPath, [BIN, 'upload', join(dir, 'imgs'), '--endpoint', `${box.url}/api/vdr`, '--manifest', join(dir, `m${run}.json`), '--no-progress', '--quiet'], {
      env: { ...process.env, BATCHUP_TOKEN: TOKEN },
    }),
  );
  await box.stop();
  box = await startServe(['--token', TOKEN]);
  const vendor = vendorNodeClient(`${box.url}/api/vdr`, TOKEN);
  theirs.push(await timed(process.execPath, [vendor, join(dir, 'imgs')]));
  await box.stop();
}
const a = median(ours);
const b = median(theirs);
console.log(`small images: ${COUNT} files, median of ${RUNS} runs`);
console.log(`  batchup upload          ${a.toFixed(2)} s   (${ours.map((x) => x.toFixed(2)).join(', ')})`);
console.log(`  seed-000 Node sample    ${b.toFixed(2)} s   (${theirs.map((x) => x.toFixed(2)).join(', ')})`);
console.log(`  ratio                   ${(b / a).toFixed(1)}× faster (goal ≥ 5×)`);
