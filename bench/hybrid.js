// Large videos through hybrid, in one run against `batchup serve`:
// 1. 1 GiB: `batchup upload --provider hybrid` vs one `curl -T` of the same file to the sandbox's
//    raw PUT endpoint (the same streaming write path the part PUTs use). Ratio = curl time /
//    batchup time (goal ≥ 0.8: batchup at least 80% of curl's throughput).
// 2. Peak RSS of the CLI (/usr/bin/time -f %M) for 1 GiB vs 4 GiB (goal ≤ 150 MB, and flat).
// 3. 1 GiB + 4 × 200 MiB in one command: all complete, each assembled object sha256-identical.
// Inputs are generated in a temp dir (random 1 GiB and 200 MiB files, a sparse 4 GiB one) and
// deleted at the end, with the sandbox data. BENCH_RUNS (default 3) pairs of curl/batchup runs, the
// order swapped every run, each starting with the disk's dirty pages flushed (`sync`), so neither
// side pays for the other's write-back.
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, median, startServe, timed, tmp } from './lib.js';
import { writeMp4 } from '../dist/devtools/video.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const TOKEN = 'bench-token';
const TIME = '/usr/bin/time';

const dir = tmp('batchup-bench-hybrid-');
const sha = async (path) => {
  const h = createHash('sha256');
  for await (const c of createReadStream(path, { highWaterMark: 4 * MiB })) h.update(c);
  return h.digest('hex');
};

/**
 * Run the CLI; returns wall seconds, the run's own duration (summary durationMs: scan to manifest,
 * without starting node and loading modules) and (with /usr/bin/time) peak RSS in MB.
 */
async function upload(box, inputs, manifest) {
  const args = [BIN, 'upload', ...inputs, '--provider', 'hybrid', '--endpoint', box.url, '--manifest', manifest, '--json'];
  const useTime = existsSync(TIME);
  const cmd = useTime ? TIME : process.execPath;
  const full = useTime ? ['-f', 'RSS_KB=%M', process.execPath, ...args] : args;
  const t0 = process.hrtime.bigint();
  const { stderr, stdout } = await new Promise((res, rej) => {
    const p = spawn(cmd, full, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, BATCHUP_TOKEN: TOKEN } });
    let err = '';
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.once('exit', (code) => (code === 0 ? res({ stderr: err, stdout: out }) : rej(new Error(`batchup exited ${code}\n${err.slice(-2000)}`))));
  });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const m = /RSS_KB=(\d+)/.exec(stderr);
  const summary = stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
    .find((e) => e.type === 'summary');
  return { seconds, runSeconds: summary.summary.durationMs / 1000, rssMb: m ? Number(m[1]) / 1024 : undefined };
}

async function withServe(fn) {
  execFileSync('sync');
  const box = await startServe(['--token', TOKEN]);
  try {
    return await fn(box);
  } finally {
    await box.stop();
    rmSync(box.data, { recursive: true, force: true });
  }
}

try {
  const one = join(dir, 'one-gib.mp4');
  await writeMp4(one, GiB);
  const four = join(dir, 'four-gib.mp4');
  await writeMp4(four, 4 * GiB, { sparse: true });

  // 1. throughput vs curl, alternating, a fresh sandbox for each measurement
  const ours = [];
  const runs = [];
  const curls = [];
  const rss1 = [];
  for (let run = 0; run < RUNS; run++) {
    const theirs = async () =>
      curls.push(await withServe((box) => timed('curl', ['-sS', '-f', '-o', '/dev/null', '-T', one, `${box.url}/_sandbox/hybrid/raw/one-gib.mp4`])));
    const mine = async () => {
      const r = await withServe((box) => upload(box, [one], join(dir, `m-one-${run}.json`)));
      ours.push(r.seconds);
      runs.push(r.runSeconds);
      if (r.rssMb !== undefined) rss1.push(r.rssMb);
    };
    for (const step of run % 2 ? [mine, theirs] : [theirs, mine]) await step();
  }
  const a = median(ours);
  const c = median(curls);
  console.log(`hybrid 1 GiB, median of ${RUNS} runs (a fresh sandbox each)`);
  console.log(`  curl -T (one PUT)        ${c.toFixed(2)} s  ${(1024 / c).toFixed(0)} MiB/s   (${curls.map((x) => x.toFixed(2)).join(', ')})`);
  console.log(`  batchup --provider hybrid ${a.toFixed(2)} s  ${(1024 / a).toFixed(0)} MiB/s   (${ours.map((x) => x.toFixed(2)).join(', ')})`);
  console.log(`  throughput ratio          ${(c / a).toFixed(2)} of curl (goal ≥ 0.8), end to end`);
  const t = median(runs);
  console.log(`  without process start     ${t.toFixed(2)} s  ${(1024 / t).toFixed(0)} MiB/s: ${(c / t).toFixed(2)} of curl (the run's own durationMs)`);

  // 2. peak RSS, 1 GiB vs 4 GiB
  const r4 = await withServe((box) => upload(box, [four], join(dir, 'm-four.json')));
  if (r4.rssMb !== undefined && rss1.length) {
    console.log(
      `  peak RSS                  1 GiB: ${Math.max(...rss1).toFixed(0)} MB, 4 GiB: ${r4.rssMb.toFixed(0)} MB (goal ≤ 150 MB, flat); 4 GiB took ${r4.seconds.toFixed(1)} s`,
    );
  } else {
    console.log(`  peak RSS                  (needs ${TIME})`);
  }
  rmSync(four, { force: true });

  // 3. 1 GiB + 4 × 200 MiB in one command
  const many = join(dir, 'many');
  mkdirSync(many);
  for (let i = 1; i <= 4; i++) await writeMp4(join(many, `clip-${i}.mp4`), 200 * MiB);
  await withServe(async (box) => {
    const manifest = join(dir, 'm-many.json');
    const r = await upload(box, [one, many], manifest);
    const m = JSON.parse(readFileSync(manifest, 'utf8'));
    let identical = 0;
    for (const e of m.entries) {
      const obj = join(box.data, 'objects', e.sha256.slice(0, 2), e.sha256);
      if (e.status === 'uploaded' && (await sha(e.source)) === e.sha256 && existsSync(obj) && (await sha(obj)) === e.sha256) identical++;
    }
    console.log(
      `  1 GiB + 4 × 200 MiB        ${r.seconds.toFixed(1)} s, ${m.entries.length} files, ${identical} uploaded and sha256-identical on the server` +
        (r.rssMb !== undefined ? `, peak RSS ${r.rssMb.toFixed(0)} MB` : ''),
    );
  });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
