// 1,000 small PNGs against the server's ingest limit: batchup with default flags vs what the
// server can take from plain curl, in one run, each against a fresh `batchup serve --process-ms 0`:
// - curl: 4 parallel `curl -F files=@…` posts of 250 files each to bach submit-with-files (the
//   4 batches of ≤ 300 batchup makes by default), then one status poll per batch until it is done.
// - batchup upload <dir> with default flags (scan, validation, journal, manifest included).
// Ratio = curl time / batchup time (goal ≥ 0.8). Also prints the run's own durationMs, so what is
// spent outside the run (node start-up, module loading, exit) shows, and batchup with
// `--mode sync` (curl's own path: multipart submit-with-files) beside it, and the same posts and
// polls as curl's written as a minimal Node client (bench/baselines/node-ingest.js: built-in fetch
// and FormData, nothing else): what Node itself costs for this work, the floor of any Node client.
import { spawn } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, QUICK, ROOT, median, startServe, tmp } from './lib.js';
import { writePngs } from '../dist/devtools/generate.js';

const COUNT = Number(process.env.BENCH_COUNT ?? 1000);
const PARALLEL = 4;
const RUNS = Number(process.env.BENCH_RUNS ?? (QUICK ? 1 : 5));
const TOKEN = 'bench-token';

const dir = tmp('batchup-bench-ingest-');
const imgs = join(dir, 'imgs');
await writePngs(imgs, COUNT);
const files = readdirSync(imgs)
  .sort()
  .map((f) => join(imgs, f));

/** Runs a command; resolves with its stdout (on 'close': 'exit' may come before the last of it). */
function run(cmd, args, env = process.env) {
  return new Promise((res, rej) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.once('close', (code) => (code === 0 ? res(out) : rej(new Error(`${cmd} exited ${code}\n${err.slice(-2000)}`))));
  });
}

const auth = ['-H', `Authorization: Bearer ${TOKEN}`];

/** The baseline: N parallel multipart posts, then status polls until every batch succeeded. */
async function curlBaseline(api) {
  const per = Math.ceil(files.length / PARALLEL);
  const groups = Array.from({ length: PARALLEL }, (_, i) => files.slice(i * per, (i + 1) * per)).filter((g) => g.length);
  const t0 = performance.now();
  await Promise.all(
    groups.map(async (group) => {
      const form = group.flatMap((f) => ['-F', `files=@${f}`]);
      const submitted = JSON.parse(await run('curl', ['-sS', '-f', ...auth, ...form, `${api}/batch-upload/submit-with-files`]));
      const id = submitted.data.batch_id;
      for (;;) {
        const st = JSON.parse(await run('curl', ['-sS', '-f', ...auth, `${api}/batch-upload/status/${id}`]));
        if (st.data.status === 'TASK_SUCCEEDED' && st.data.processed_count === group.length) break;
        if (st.data.status === 'TASK_FAILED') throw new Error(`batch ${id} failed`);
        await new Promise((r) => setTimeout(r, 20));
      }
    }),
  );
  return (performance.now() - t0) / 1000;
}

/** The same work as curlBaseline, as a minimal Node client. */
async function nodeBaseline(api) {
  const t0 = performance.now();
  await run(process.execPath, [join(ROOT, 'bench', 'baselines', 'node-ingest.js'), api, String(PARALLEL), ...files], { ...process.env, BENCH_TOKEN: TOKEN });
  return (performance.now() - t0) / 1000;
}

async function batchup(api, manifest, extra = []) {
  const t0 = performance.now();
  const out = await run(process.execPath, [BIN, 'upload', imgs, '--endpoint', api, '--manifest', manifest, '--json', ...extra], {
    ...process.env,
    BATCHUP_TOKEN: TOKEN,
  });
  const seconds = (performance.now() - t0) / 1000;
  const summary = out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
    .find((e) => e.type === 'summary');
  return { seconds, runSeconds: summary.summary.durationMs / 1000 };
}

async function fresh(fn) {
  const box = await startServe(['--token', TOKEN, '--process-ms', '0']);
  try {
    return await fn(`${box.url}/api/vdr`);
  } finally {
    await box.stop();
    rmSync(box.data, { recursive: true, force: true });
  }
}

try {
  const curls = [];
  const ours = [];
  const runs = [];
  const syncs = [];
  const nodes = [];
  // One warm-up of each (disk cache, curl and node binaries), not counted.
  await fresh((api) => curlBaseline(api));
  await fresh((api) => batchup(api, join(dir, 'warm.json')));
  await fresh((api) => nodeBaseline(api));
  for (let i = 0; i < RUNS; i++) {
    const theirs = async () => curls.push(await fresh((api) => curlBaseline(api)));
    const mine = async () => {
      const r = await fresh((api) => batchup(api, join(dir, `m${i}.json`)));
      ours.push(r.seconds);
      runs.push(r.runSeconds);
    };
    // The same path as curl's (multipart submit-with-files): what batchup costs beside the transfer.
    const sync = async () => syncs.push((await fresh((api) => batchup(api, join(dir, `s${i}.json`), ['--mode', 'sync']))).seconds);
    const floor = async () => nodes.push(await fresh((api) => nodeBaseline(api)));
    for (const step of i % 2 ? [mine, floor, sync, theirs] : [theirs, sync, floor, mine]) await step();
  }
  const fmt = (xs) => xs.map((x) => x.toFixed(2)).join(', ');
  const c = median(curls);
  const a = median(ours);
  console.log(`small images at the server's ingest limit: ${COUNT} PNGs, serve --process-ms 0, median of ${RUNS} (a fresh sandbox each)`);
  console.log(`  curl: ${PARALLEL} parallel -F posts + status polls  ${c.toFixed(2)} s   (${fmt(curls)})`);
  console.log(`  batchup upload (defaults)                ${a.toFixed(2)} s   (${fmt(ours)})`);
  console.log(`  ratio                                    ${(c / a).toFixed(2)} of curl (goal ≥ 0.8); the run's own clock: ${median(runs).toFixed(2)} s`);
  const s = median(syncs);
  console.log(`  batchup --mode sync (curl's path)        ${s.toFixed(2)} s   (${fmt(syncs)})   ${(c / s).toFixed(2)} of curl`);
  const n = median(nodes);
  console.log(
    `  minimal Node client (fetch + FormData)   ${n.toFixed(2)} s   (${fmt(nodes)})   ${(c / n).toFixed(2)} of curl: the Node floor; batchup ${(n / a).toFixed(2)}× its speed`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
