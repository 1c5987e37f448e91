// Shared bits of the benchmarks: start `batchup serve`, time commands, extract the vendor's
// sample client from the seed document at run time (it is never stored in this repository).
import { spawn, execFileSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const BIN = join(ROOT, 'bin', 'batchup.js');
export const SHARED = process.env.BATCHUP_SHARED ?? resolve(ROOT, '..', 'shared');

/** A temp folder, removed when the benchmark's process exits (however it ends but a kill). */
export function tmp(prefix) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  if (!made.length) process.on('exit', () => made.forEach((d) => rmSync(d, { recursive: true, force: true })));
  made.push(dir);
  return dir;
}
const made = [];

export async function startServe(args = []) {
  const data = tmp('batchup-bench-data-');
  const proc = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--data', data, ...args], { stdio: ['ignore', 'pipe', 'ignore'] });
  const url = await new Promise((res, rej) => {
    createInterface({ input: proc.stdout }).once('line', (l) => res(l.trim()));
    proc.once('exit', (c) => rej(new Error(`serve exited ${c}`)));
  });
  return {
    url,
    data,
    stop: () =>
      new Promise((r) => {
        proc.once('exit', r);
        proc.kill('SIGTERM');
      }),
  };
}

export async function timed(cmd, args, opts = {}) {
  const t0 = process.hrtime.bigint();
  await new Promise((res, rej) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], ...opts });
    let err = '';
    p.stderr?.on('data', (d) => (err += d));
    p.once('exit', (code) => (code === 0 ? res() : rej(new Error(`${cmd} ${args.join(' ')} exited ${code}\n${err.slice(-2000)}`))));
  });
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

/**
 * The seed-000 Node.js sample client, taken from the seed at run time, with only its base URL
 * and token changed, plus a driver that feeds it a folder in batches of ≤ 300 (the API's limit),
 * one after another, as the vendor's "split into multiple batches" advice implies.
 */
let vendorDir;
export function vendorNodeClient(apiBase, token) {
  const seedDir = join(SHARED, 'seeds');
  const seed = readdirSync(seedDir).find((f) => f.startsWith('000_'));
  const text = readFileSync(join(seedDir, seed), 'utf8');
  const start = text.indexOf("const axios = require('axios');");
  const end = text.indexOf('// Usage', start);
  if (start < 0 || end < 0) throw new Error('could not find the Node.js sample in seed 000');
  const client = text
    .slice(start, end)
    .replace(/const API_BASE = '[^']*';/, `const API_BASE = ${JSON.stringify(apiBase)};`)
    .replace(/const API_TOKEN = '[^']*';/, `const API_TOKEN = ${JSON.stringify(token)};`);
  if (!vendorDir) {
    vendorDir = tmp('batchup-bench-vendor-');
    writeFileSync(join(vendorDir, 'package.json'), '{"name":"vendor-sample","private":true}');
    execFileSync('npm', ['install', '--silent', '--no-audit', '--no-fund', 'axios@1', 'form-data@4'], { cwd: vendorDir, stdio: 'inherit' });
  }
  const dir = vendorDir;
  const driver = `
${client}
(async () => {
  const dir = process.argv[2];
  const files = fs.readdirSync(dir).sort().map((f) => path.join(dir, f));
  for (let i = 0; i < files.length; i += 300) {
    await batchUploadFiles(files.slice(i, i + 300));
  }
})().catch((e) => { console.error(e.message); process.exit(1); });
`;
  const file = join(dir, `sample-${Math.random().toString(36).slice(2)}.js`);
  writeFileSync(file, driver);
  return file;
}

/** `npm run bench -- --quick` (or BENCH_QUICK=1): one run each and smaller inputs, for a first look. */
export const QUICK = process.argv.includes('--quick') || !!process.env.BENCH_QUICK;

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

export { existsSync };
