// Large videos through hybrid, in one run against `batchup serve`:
// 1. 1 GiB: `batchup upload --provider hybrid` vs one `curl -T` of the same file to the sandbox's
//    raw PUT endpoint (the same streaming write path the part PUTs use). Ratio = curl time /
//    batchup time (goal ≥ 0.9: batchup at least 90% of curl's throughput). Beside them, the same PUT
//    from a minimal Node client (bench/baselines/node-put.js: node:http, a file stream, no hash),
//    Node's own floor for this transfer, and the CPU time Node takes to sha256 the file (the integrity
//    digest batchup computes and curl does not).
// 2. Peak RSS of the CLI (/usr/bin/time -f %M) for 1 GiB vs 4 GiB (flat).
// 3. 1 GiB + 2 × 200 MiB in one command, against a clean sandbox and one with 15 % faults (API
//    and part PUTs: 5xx, 429, resets, bodies cut off halfway) and presigned URLs that expire
//    after 5 s: all complete, each assembled object sha256-identical, peak RSS ≤ 120 MB in both
//    (the default --max-memory).
// Inputs are generated in a temp dir (random 1 GiB and 200 MiB files, a sparse 4 GiB one) and
// deleted at the end, with the sandbox data. BENCH_RUNS (default 3) pairs of curl/batchup runs, the
// order swapped every run, each starting with the disk's dirty pages flushed (`sync`), so neither
// side pays for the other's write-back. --quick: one run, 256 MiB + 2 × 50 MiB, no 4 GiB.
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, existsSync, mkdirSync, openSync, readFileSync, readSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, QUICK, ROOT, median, startServe, timed, tmp } from './lib.js';
import { writeMp4 } from '../dist/devtools/video.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const RUNS = Number(process.env.BENCH_RUNS ?? (QUICK ? 1 : 3));
const BIG = QUICK ? 256 * MiB : GiB;
const CLIP = QUICK ? 50 * MiB : 200 * MiB;
const BIG_NAME = QUICK ? '256 MiB' : '1 GiB';
const RSS_GOAL_MB = 120;
const FAULTS = [
  '--fault-rate',
  '0.15',
  '--faults',
  '500,503,429,reset',
  '--retry-after',
  '1',
  '--part-fault-rate',
  '0.15',
  '--part-faults',
  'cut,500,reset',
  '--presign-ttl',
  '5',
  '--seed',
  '7',
];
const TOKEN = 'bench-token';
const TIME = '/usr/bin/time';

const dir = tmp('batchup-bench-hybrid-');
const sha = async (path) => {
  const h = createHash('sha256');
  for await (const c of createReadStream(path, { highWaterMark: 4 * MiB })) h.update(c);
  return h.digest('hex');
};

/** CPU seconds Node takes to sha256 a file read into one reused buffer (as batchup's hashing thread does). */
function digestCpu(path) {
  const fd = openSync(path, 'r');
  const buf = Buffer.allocUnsafe(MiB);
  const h = createHash('sha256');
  const start = process.cpuUsage();
  for (let at = 0, n; (n = readSync(fd, buf, 0, buf.length, at)) > 0; at += n) h.update(n === buf.length ? buf : buf.subarray(0, n));
  h.digest();
  const { user, system } = process.cpuUsage(start);
  closeSync(fd);
  return (user + system) / 1e6;
}

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
    p.once('close', (code) => (code === 0 ? res({ stderr: err, stdout: out }) : rej(new Error(`batchup exited ${code}\n${err.slice(-2000)}`))));
  });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const m = /RSS_KB=(\d+)/.exec(stderr);
  const events = stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  const summary = events.find((e) => e.type === 'summary');
  const retries = events.filter((e) => e.type === 'retry').length;
  return { seconds, runSeconds: summary.summary.durationMs / 1000, rssMb: m ? Number(m[1]) / 1024 : undefined, retries };
}

async function withServe(fn, serveArgs = []) {
  execFileSync('sync');
  const box = await startServe(['--token', TOKEN, ...serveArgs]);
  try {
    return await fn(box);
  } finally {
    await box.stop();
    rmSync(box.data, { recursive: true, force: true });
  }
}

try {
  const one = join(dir, 'one-gib.mp4');
  await writeMp4(one, BIG);

  // 1. throughput vs curl, alternating, a fresh sandbox for each measurement
  const ours = [];
  const runs = [];
  const curls = [];
  const nodes = [];
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
    const floor = async () =>
      nodes.push(
        await withServe((box) => timed(process.execPath, [join(ROOT, 'bench', 'baselines', 'node-put.js'), one, `${box.url}/_sandbox/hybrid/raw/one-gib.mp4`])),
      );
    for (const step of run % 2 ? [mine, floor, theirs] : [theirs, floor, mine]) await step();
  }
  const hashSecs = digestCpu(one);
  const a = median(ours);
  const c = median(curls);
  console.log(`hybrid ${BIG_NAME}, median of ${RUNS} runs (a fresh sandbox each)`);
  console.log(`  curl -T (one PUT)        ${c.toFixed(2)} s  ${(BIG / MiB / c).toFixed(0)} MiB/s   (${curls.map((x) => x.toFixed(2)).join(', ')})`);
  console.log(`  batchup --provider hybrid ${a.toFixed(2)} s  ${(BIG / MiB / a).toFixed(0)} MiB/s   (${ours.map((x) => x.toFixed(2)).join(', ')})`);
  console.log(`  throughput ratio          ${(c / a).toFixed(2)} of curl (goal ≥ 0.9), end to end`);
  const t = median(runs);
  console.log(`  without process start     ${t.toFixed(2)} s  ${(BIG / MiB / t).toFixed(0)} MiB/s: ${(c / t).toFixed(2)} of curl (the run's own durationMs)`);
  const n = median(nodes);
  console.log(
    `  minimal Node PUT (floor)  ${n.toFixed(2)} s  ${(BIG / MiB / n).toFixed(0)} MiB/s   (${nodes.map((x) => x.toFixed(2)).join(', ')}): ${(c / n).toFixed(2)} of curl`,
  );
  console.log(`  sha256 of the file          ${hashSecs.toFixed(2)} s of CPU in Node (the integrity digest batchup computes on its hashing thread, curl none)`);

  // 2. peak RSS, 1 GiB vs 4 GiB
  if (!QUICK) {
    const four = join(dir, 'four-gib.mp4');
    await writeMp4(four, 4 * GiB, { sparse: true });
    const r4 = await withServe((box) => upload(box, [four], join(dir, 'm-four.json')));
    if (r4.rssMb !== undefined && rss1.length) {
      console.log(
        `  peak RSS                  1 GiB: ${Math.max(...rss1).toFixed(0)} MB, 4 GiB: ${r4.rssMb.toFixed(0)} MB (flat); 4 GiB took ${r4.seconds.toFixed(1)} s`,
      );
    } else {
      console.log(`  peak RSS                  (needs ${TIME})`);
    }
    rmSync(four, { force: true });
  }

  // 3. 1 GiB + 2 × 200 MiB in one command, clean and under faults with expiring URLs
  const many = join(dir, 'many');
  mkdirSync(many);
  for (let i = 1; i <= 2; i++) await writeMp4(join(many, `clip-${i}.mp4`), CLIP);
  const label = `${BIG_NAME} + 2 × ${CLIP / MiB} MiB`;
  for (const [name, serveArgs] of [
    ['clean', []],
    ['15 % faults, URLs expire after 5 s', FAULTS],
  ]) {
    const rss = [];
    const secs = [];
    const retries = [];
    let identical = 0;
    let files = 0;
    for (let run = 0; run < RUNS; run++) {
      await withServe(async (box) => {
        const manifest = join(dir, `m-many-${run}.json`);
        const r = await upload(box, [one, many], manifest);
        const m = JSON.parse(readFileSync(manifest, 'utf8'));
        files = m.entries.length;
        identical = 0;
        for (const e of m.entries) {
          const obj = join(box.data, 'objects', e.sha256.slice(0, 2), e.sha256);
          if (e.status === 'uploaded' && (await sha(e.source)) === e.sha256 && existsSync(obj) && (await sha(obj)) === e.sha256) identical++;
        }
        secs.push(r.seconds);
        retries.push(r.retries);
        if (r.rssMb !== undefined) rss.push(r.rssMb);
      }, serveArgs);
    }
    console.log(
      `  ${label}, ${name}: ${median(secs).toFixed(1)} s, ${files} files, ${identical} uploaded and sha256-identical on the server, retries ${retries.join(', ')}` +
        (rss.length ? `, peak RSS ${median(rss).toFixed(0)} MB median (${rss.map((x) => x.toFixed(0)).join(', ')}; goal ≤ ${RSS_GOAL_MB} MB)` : ''),
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
