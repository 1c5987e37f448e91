// claid pacing: 60 local images against `batchup serve --rate-limit "30;w=10, 6;w=1"`. Prints the
// wall time of `batchup upload` next to the minimum those windows allow (computed below), and the
// 429s the sandbox counted. Goal: within 25 % of the minimum, at most one 429.
import { join } from 'node:path';
import { BIN, median, startServe, timed, tmp } from './lib.js';
import { writePngs } from '../dist/devtools/generate.js';

const COUNT = Number(process.env.BENCH_COUNT ?? 60);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const LIMIT = process.env.BENCH_RATE_LIMIT ?? '30;w=10, 6;w=1';
const TOKEN = 'bench-token';

/**
 * Seconds from the first request to the start of the last one, at best, under fixed windows that
 * open with the first request after the previous one closed (the contract's rule): each request
 * starts as soon as every window has room.
 */
function minimumSeconds(requests, limit) {
  const policies = limit.split(',').map((p) => {
    const [, q, w] = /(\d+)\s*;\s*w\s*=\s*(\d+)/.exec(p);
    return { quota: Number(q), windowMs: Number(w) * 1000, openedAt: 0, used: 0 };
  });
  let t = 0;
  for (let i = 0; i < requests; i++) {
    for (;;) {
      let wait = t;
      for (const p of policies) {
        if (p.used > 0 && t >= p.openedAt + p.windowMs) p.used = 0; // closed: the next request opens it
        if (p.used >= p.quota) wait = Math.max(wait, p.openedAt + p.windowMs);
      }
      if (wait === t) break;
      t = wait;
    }
    for (const p of policies) {
      if (p.used === 0) p.openedAt = t;
      p.used++;
    }
  }
  return t / 1000;
}

const dir = tmp('batchup-bench-claid-');
await writePngs(join(dir, 'in'), COUNT);
const min = minimumSeconds(COUNT, LIMIT);
const times = [];
const refused = [];
for (let run = 0; run < RUNS; run++) {
  const box = await startServe(['--token', TOKEN, '--rate-limit', LIMIT]);
  times.push(
    await timed(
      process.execPath,
      [
        BIN,
        'upload',
        join(dir, 'in'),
        '--provider',
        'claid',
        '--operations',
        '{"resizing":{"width":64}}',
        '--endpoint',
        box.url,
        '--manifest',
        join(dir, `m${run}.json`),
        '--quiet',
      ],
      { env: { ...process.env, BATCHUP_TOKEN: TOKEN } },
    ),
  );
  const stats = await (await fetch(`${box.url}/_sandbox/stats`)).json();
  refused.push(stats.claid.rateLimited);
  await box.stop();
}
const a = median(times);
console.log(`claid pacing: ${COUNT} local images under "${LIMIT}", ${RUNS} runs, each against a fresh sandbox`);
console.log(`  minimum the windows allow (first request → last one)  ${min.toFixed(2)} s`);
console.log(
  `  batchup upload (whole process)                       ${a.toFixed(2)} s median (${times.map((x) => x.toFixed(2)).join(', ')})  → +${((a / min - 1) * 100).toFixed(1)} % (goal ≤ 25 %)`,
);
console.log(`  429s counted by the sandbox                          ${refused.join(', ')} (goal ≤ 1 per run)`);
