// Scale: a tree of small PNGs (~6 KB, 1,000 a folder) through batchup, each figure beside its
// baseline measured in the same run with public tools:
//   dry run (`upload TREE --dry-run`)        vs `find TREE -type f -exec cat {} + >/dev/null` (goal ≤ 1.2×)
//   its peak RSS                             (goal ≤ 150 MB at 100k; ≤ 0.5 KB more per extra file)
//   first upload to `batchup serve`          time and peak RSS
//   nightly rerun over the unchanged tree    vs `find TREE -type f -printf '%s %T@\n'` (goal ≤ 2×), and
//                                            vs the Node floor (a bare readdir + stat walk)
// Peak RSS from /usr/bin/time. `--quick`: 10,000 files and no upload. BENCH_COUNT sets the count;
// BENCH_TREE keeps the tree in that folder (made once, reused by later runs).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, ROOT, median, startServe, tmp } from './lib.js';
import { makePng } from '../dist/devtools/generate.js';

const quick = process.argv.includes('--quick');
const COUNT = Number(process.env.BENCH_COUNT ?? (quick ? 10_000 : 100_000));
const PER_FOLDER = 1000;
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const TOKEN = 'bench-token';

/** A tree of `count` distinct ~6 KB PNGs, made once per folder (`.complete` marks a finished one). */
function tree(dir, count) {
  if (existsSync(join(dir, '.complete'))) return dir;
  rmSync(dir, { recursive: true, force: true });
  for (let i = 0; i < count; i++) {
    const folder = join(dir, `d${String(Math.floor(i / PER_FOLDER)).padStart(4, '0')}`);
    if (i % PER_FOLDER === 0) mkdirSync(folder, { recursive: true });
    // minBytes 2900: two rows of 1,024 random pixels, ~6.2 KB.
    writeFileSync(join(folder, `img-${String(i).padStart(7, '0')}.png`), makePng(i + 1, { minBytes: 2900 }));
  }
  writeFileSync(join(dir, '.complete'), '');
  return dir;
}

/** Run a command under /usr/bin/time: seconds and peak RSS (MB). */
function measure(cmd, args, env = process.env) {
  const run = spawnSync('/usr/bin/time', ['-f', '%M %e', cmd, ...args], { env, encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 26 });
  const last = run.stderr.trim().split('\n').at(-1) ?? '';
  const [kb, secs] = last.split(' ').map(Number);
  if (run.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${run.status}\n${run.stderr.slice(-2000)}`);
  return { secs, mb: kb / 1024 };
}

const sh = (script) => measure('sh', ['-c', script]);
const fmt = (m) => `${m.secs.toFixed(2)} s, peak RSS ${m.mb.toFixed(0)} MB`;
const ratio = (a, b) => `${(a.secs / b.secs).toFixed(2)}×`;

const dir = process.env.BENCH_TREE ?? join(tmp('batchup-bench-scale-'), 'tree');
const root = tree(dir, COUNT);
const files = readdirSync(root).filter((f) => f.startsWith('d')).length;
console.log(`scale: ${COUNT} PNGs of ~6 KB in ${files} folders (${root})`);

const work = tmp('batchup-bench-scale-run-');
// Warm the page cache once, so neither side pays for the first read from disk.
sh(`find '${root}' -type f -exec cat {} + >/dev/null`);
const cat = sh(`find '${root}' -type f -exec cat {} + >/dev/null`);
const dry = measure(process.execPath, [BIN, 'upload', root, '--dry-run', '--manifest', join(work, 'dry.json'), '--quiet']);
console.log(`  find -exec cat (baseline)          ${fmt(cat)}`);
console.log(`  upload --dry-run                   ${fmt(dry)}   ${ratio(dry, cat)} the baseline (goal ≤ 1.2×, ≤ 150 MB at 100k)`);

if (!quick) {
  const box = await startServe(['--token', TOKEN]);
  const env = { ...process.env, BATCHUP_TOKEN: TOKEN };
  const args = [BIN, 'upload', root, '--endpoint', `${box.url}/api/vdr`, '--manifest', join(work, 'm.json'), '--quiet'];
  try {
    const first = measure(process.execPath, args, env);
    console.log(`  first upload (sandbox)             ${fmt(first)}`);
    // The first rerun marks every entry skipped; the ones after it are the nightly case. Each
    // round measures find, the Node floor (bench/baselines/node-walk.js: readdir + stat of every
    // file and nothing else) and batchup, in turn.
    measure(process.execPath, args, env);
    const rounds = { printf: [], walk: [], rerun: [] };
    for (let i = 0; i < RUNS; i++) {
      rounds.printf.push(sh(`find '${root}' -type f -printf '%s %T@\\n' >/dev/null`));
      rounds.walk.push(measure(process.execPath, [join(ROOT, 'bench', 'baselines', 'node-walk.js'), root]));
      rounds.rerun.push(measure(process.execPath, args, env));
    }
    const [printf, walk, rerun] = [rounds.printf, rounds.walk, rounds.rerun].map((ms) => ({
      secs: median(ms.map((m) => m.secs)),
      mb: Math.max(...ms.map((m) => m.mb)),
    }));
    console.log(`  nightly rerun, nothing changed: medians of ${RUNS} rounds`);
    console.log(`    find -printf size mtime (baseline) ${fmt(printf)}`);
    console.log(`    Node floor: readdir + stat         ${fmt(walk)}   ${ratio(walk, printf)} the baseline`);
    console.log(
      `    batchup upload (rerun)             ${fmt(rerun)}   ${ratio(rerun, printf)} the baseline (goal ≤ 2×), ${ratio(rerun, walk)} the Node floor`,
    );
  } finally {
    await box.stop();
    rmSync(box.data, { recursive: true, force: true });
  }
}
rmSync(work, { recursive: true, force: true });
if (!process.env.BENCH_TREE) rmSync(root, { recursive: true, force: true });
