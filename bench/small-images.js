// 1,000 small images: batchup vs the seed-000 Node sample client against the same sandbox, in
// one run. Prints each time and the ratio (goal ≥ 5×).
import { join } from 'node:path';
import { BIN, QUICK, median, startServe, timed, tmp, vendorNodeClient } from './lib.js';
import { writePngs } from '../dist/devtools/generate.js';

const COUNT = Number(process.env.BENCH_COUNT ?? 1000);
const RUNS = Number(process.env.BENCH_RUNS ?? (QUICK ? 1 : 3));
const TOKEN = 'bench-token';

const dir = tmp('batchup-bench-imgs-');
await writePngs(join(dir, 'imgs'), COUNT);
vendorNodeClient('http://placeholder', TOKEN); // installs axios + form-data once, outside the timings

// batchup as installed (fewest batches of ≤ 300, 4 in flight), and tuned for many small files
// (smaller batches, more in flight: the server processes batches side by side).
const CONFIGS = { default: [], tuned: ['--batch-size', '100', '--concurrency', '10'] };
const ours = { default: [], tuned: [] };
const theirs = [];
for (let run = 0; run < RUNS; run++) {
  // A fresh sandbox per run and per client, so neither sees the other's batches.
  let box;
  for (const [name, flags] of Object.entries(CONFIGS)) {
    box = await startServe(['--token', TOKEN]);
    ours[name].push(
      await timed(
        process.execPath,
        [BIN, 'upload', join(dir, 'imgs'), '--endpoint', `${box.url}/api/vdr`, '--manifest', join(dir, `m${run}.json`), '--quiet', ...flags],
        {
          env: { ...process.env, BATCHUP_TOKEN: TOKEN },
        },
      ),
    );
    await box.stop();
  }
  box = await startServe(['--token', TOKEN]);
  const vendor = vendorNodeClient(`${box.url}/api/vdr`, TOKEN);
  theirs.push(await timed(process.execPath, [vendor, join(dir, 'imgs')]));
  await box.stop();
}
const b = median(theirs);
const fmt = (xs) => xs.map((x) => x.toFixed(2)).join(', ');
console.log(`small images: ${COUNT} files, median of ${RUNS} runs, each against a fresh sandbox`);
console.log(`  seed-000 Node sample                       ${b.toFixed(2)} s   (${fmt(theirs)})`);
for (const [name, flags] of Object.entries(CONFIGS)) {
  const a = median(ours[name]);
  console.log(
    `  batchup upload ${(flags.join(' ') || '(defaults)').padEnd(27)} ${a.toFixed(2)} s   (${fmt(ours[name])})  → ${(b / a).toFixed(1)}× faster (goal ≥ 5×)`,
  );
}
