// --bwlimit: a 200 MiB video through hybrid (5 MiB chunks, several in flight) under --bwlimit 20M,
// against `batchup serve` on loopback (which alone would take it at hundreds of MB/s). The rate is
// the file's bytes over the transfer window, read from the CLI's own --json progress as it
// arrives: from the first `file-progress` to the one that reaches the file's size. The goal is
// within 10 % of the limit (BWLIMIT and BWLIMIT_MIB change the sizes).
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { BIN, startServe, tmp } from './lib.js';
import { writeMp4 } from '../dist/devtools/video.js';

const MiB = 1024 * 1024;
const LIMIT = process.env.BWLIMIT ?? '20M';
const LIMIT_BYTES = Number.parseFloat(LIMIT) * MiB;
const SIZE = Number(process.env.BWLIMIT_MIB ?? 200) * MiB;
const TOKEN = 'bench-token';

const dir = tmp('batchup-bench-bwlimit-');
const video = join(dir, 'big.mp4');
await writeMp4(video, SIZE);
const box = await startServe(['--token', TOKEN]);
try {
  const args = [BIN, 'upload', video, '--provider', 'hybrid', '--endpoint', box.url, '--manifest', join(dir, 'm.json'), '--json', '--bwlimit', LIMIT];
  const p = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, BATCHUP_TOKEN: TOKEN } });
  let first;
  let last;
  let summary;
  const t0 = performance.now();
  for await (const line of createInterface({ input: p.stdout })) {
    const e = JSON.parse(line);
    if (e.type === 'file-progress') {
      first ??= performance.now();
      if (e.sent >= e.total && last === undefined) last = performance.now();
    }
    if (e.type === 'summary') summary = e.summary;
  }
  const code = await new Promise((r) => (p.exitCode === null ? p.once('exit', r) : r(p.exitCode)));
  const wall = (performance.now() - t0) / 1000;
  if (code !== 0 || !summary || last === undefined) throw new Error(`batchup exited ${code}`);
  const window = (last - first) / 1000;
  const rate = SIZE / window;
  const off = (rate / LIMIT_BYTES - 1) * 100;
  console.log(
    `bwlimit ${LIMIT}: ${(SIZE / MiB).toFixed(0)} MiB hybrid in ${window.toFixed(2)} s of transfer -> ${(rate / MiB).toFixed(2)} MiB/s ` +
      `vs the limit ${(LIMIT_BYTES / MiB).toFixed(2)} MiB/s (${off >= 0 ? '+' : ''}${off.toFixed(1)} %); whole command ${wall.toFixed(2)} s, ` +
      `run ${(summary.durationMs / 1000).toFixed(2)} s (${(SIZE / MiB / (summary.durationMs / 1000)).toFixed(2)} MiB/s end to end)` +
      (Math.abs(off) <= 10 ? '' : '  <-- outside 10 %'),
  );
} finally {
  await box.stop();
  rmSync(dir, { recursive: true, force: true });
  rmSync(box.data, { recursive: true, force: true });
}
