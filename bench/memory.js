// Bounded memory: 300 files × ~9.9 MB (one bach batch at the size limit, ~3 GB) through both
// upload paths; prints the client's peak RSS for each. The files are hard links of one image, so
// the test needs ~10 MB of disk for the inputs.
import { spawnSync } from 'node:child_process';
import { linkSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, startServe, tmp } from './lib.js';
import { makePng } from '../dist/devtools/generate.js';

const COUNT = Number(process.env.BENCH_COUNT ?? 300);
const TOKEN = 'bench-token';
const dir = tmp('batchup-bench-mem-');
const src = join(dir, 'one.png');
writeFileSync(src, makePng(1, { minBytes: 9.9 * 1024 * 1024 }));
mkdirSync(join(dir, 'set'));
for (let i = 0; i < COUNT; i++) linkSync(src, join(dir, 'set', `big-${String(i).padStart(3, '0')}.png`));

console.log(`bounded memory: ${COUNT} files × 9.9 MB in one batch`);
for (const mode of ['sync', 'async']) {
  const box = await startServe(['--token', TOKEN]);
  // /usr/bin/time prints "<peak RSS KB> <seconds>" as the last line of stderr.
  const run = spawnSync(
    '/usr/bin/time',
    [
      '-f',
      '%M %e',
      process.execPath,
      BIN,
      'upload',
      join(dir, 'set'),
      '--mode',
      mode,
      '--endpoint',
      `${box.url}/api/vdr`,
      '--manifest',
      join(dir, `${mode}.json`),
      '--quiet',
    ],
    { env: { ...process.env, BATCHUP_TOKEN: TOKEN }, encoding: 'utf8' },
  );
  await box.stop();
  if (run.status !== 0) throw new Error(`upload failed:\n${run.stderr}`);
  const [kb, secs] = run.stderr.trim().split('\n').at(-1).split(' ');
  const gb = (COUNT * 9.9) / 1024;
  console.log(`  ${mode.padEnd(5)} ${gb.toFixed(2)} GB of files: peak RSS ${(Number(kb) / 1024).toFixed(0)} MB, ${Number(secs).toFixed(1)} s`);
}
