/**
 * claid end to end — the "must show": the built CLI against a real `batchup serve`.
 *  - 20 images uploaded with bach, then the bach manifest as claid's URL list: every output 500 px
 *    wide with the right height, and `--download` writes 20 files whose real headers agree;
 *  - 60 local images under "30;w=10, 6;w=1": all edited, at most one 429 (bench/claid-rate.js
 *    measures the wall time against the minimum the windows allow);
 *  - 250 URLs of which 3 are dead and 1 is a PDF named .jpg: those 4 rejected locally, every other
 *    URL mapped to its output, no batch ends ERROR;
 *  - an unknown operations section: exit 2 before any request.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CHECKERS } from '../../src/core/validate/index.js';
import { sniff } from '../../src/core/validate/sniff.js';
import { BufferSource } from '../../src/core/validate/source.js';
import { makePng, writePngs } from '../../src/devtools/generate.js';
import { claidPolicy } from '../../src/providers/claid/policy.js';
import { cleanEnv, cli, readJson, sandboxes, tempDir, type ServeHandle } from '../helpers/cli.js';
import { waitFor } from '../helpers/wait.js';

const TOKEN = 'tok-claid-e2e-51d0';
const env = (sb: ServeHandle, extra: Record<string, string> = {}) => cleanEnv({ BATCHUP_TOKEN: TOKEN, BATCHUP_ENDPOINT: sb.url, ...extra });
const claidRequests = (s: { requests: Record<string, number> }) => Object.entries(s.requests).filter(([k]) => k.startsWith('claid.'));

const start = sandboxes(['--token', TOKEN, '--process-ms', '1']);

/** Format, width and height from a file's real header. */
async function header(bytes: Buffer): Promise<{ format?: string; width?: number; height?: number }> {
  const { format } = await sniff(bytes, new BufferSource(bytes));
  return { format, ...(await CHECKERS[format!]!(new BufferSource(bytes), claidPolicy)) };
}

/** Upload images with bach; returns its manifest path. */
async function bachUpload(sb: ServeHandle, dir: string): Promise<string> {
  const manifest = join(dir, 'bach.json');
  const r = await cli(['upload', dir, '--provider', 'bach', '--manifest', manifest], { env: env(sb, { BATCHUP_ENDPOINT: `${sb.url}/api/vdr` }) });
  expect(r.exitCode, r.stderr).toBe(0);
  return manifest;
}

describe('bach → claid: a bach manifest as the URL list', () => {
  it('20 images resized to 500 px wide with the right heights; --download writes 20 files whose headers agree', async () => {
    const sb = await start();
    const dir = await tempDir('batchup-claid-chain-');
    const sizes = Array.from({ length: 20 }, (_, i) => ({ width: 120 + i * 37, height: 50 + i * 29 }));
    for (const [i, s] of sizes.entries()) await writeFile(join(dir, `photo-${String(i).padStart(2, '0')}.png`), makePng(500 + i, s));
    const bach = await bachUpload(sb, dir);
    const bachUrls = new Map((await readJson(bach)).entries.map((e: any) => [e.url, e.source]));

    const manifest = join(dir, 'claid.json');
    const out = join(dir, 'edited');
    const r = await cli(
      ['upload', '--urls', bach, '--provider', 'claid', '--operations', '{"resizing":{"width":500}}', '--manifest', manifest, '--download', out],
      {
        env: env(sb),
      },
    );
    expect(r.exitCode, r.stderr).toBe(0);
    const m = await readJson(manifest);
    expect(m.entries).toHaveLength(20);
    for (const e of m.entries) {
      const i = Number(/photo-(\d+)\.png$/.exec(bachUrls.get(e.source) as string)![1]);
      const { width, height } = sizes[i]!;
      const expected = Math.floor((2 * 500 * height + width) / (2 * width)); // 500·h/w, rounded half up
      expect(e).toMatchObject({ status: 'uploaded', provider: 'claid', mode: 'batch' });
      expect(e.remote.input_object).toMatchObject({ width, height, format: 'PNG' });
      expect(e.remote.output_object).toMatchObject({ width: 500, height: expected, format: 'JPEG' });
      expect(e.url).toBe(e.remote.output_object.tmp_url);
      expect(Date.parse(e.expiresAt) - Date.parse(e.finishedAt)).toBeLessThanOrEqual(24 * 3600 * 1000);
      // The download: path and sha256 in the entry, and a file whose real header says 500 × h.
      const bytes = await readFile(e.download.path);
      expect(e.download.size).toBe(bytes.length);
      expect(await header(bytes)).toEqual({ format: 'jpg', width: 500, height: expected });
    }
    expect(new Set(m.entries.map((e: any) => e.download.path)).size).toBe(20);
  });
});

describe('pacing by the RateLimit headers', () => {
  it('60 local images under "30;w=10, 6;w=1": all edited, at most one 429', async () => {
    const sb = await start(['--rate-limit', '30;w=10, 6;w=1']);
    const dir = await tempDir('batchup-claid-rate-');
    await writePngs(join(dir, 'in'), 60);
    const r = await cli(['upload', join(dir, 'in'), '--provider', 'claid', '--operations', '{"resizing":{"width":64}}', '--manifest', join(dir, 'm.json')], {
      env: env(sb),
    });
    expect(r.exitCode, r.stderr).toBe(0);
    const m = await readJson(join(dir, 'm.json'));
    expect(m.entries.filter((e: any) => e.status === 'uploaded' && e.mode === 'upload')).toHaveLength(60);
    const stats = (await sb.stats()) as any;
    expect(stats.requests['claid.upload']).toBeGreaterThanOrEqual(60);
    expect(stats.claid.rateLimited).toBeLessThanOrEqual(1);
  });
});

describe('250 URLs: 3 dead, 1 PDF named .jpg', () => {
  it('those 4 rejected locally with their rules; every other URL mapped to its output; no batch ends ERROR', async () => {
    const sb = await start();
    const dir = await tempDir('batchup-claid-urls-');
    // 246 images of distinct sizes (their dimensions prove each output is its own input's).
    const sizeOf = (i: number) => ({ width: 40 + (i % 41), height: 30 + Math.floor(i / 41) });
    for (let i = 0; i < 246; i++) await writeFile(join(dir, `u-${String(i).padStart(3, '0')}.png`), makePng(900 + i, sizeOf(i)));
    const bach = await readJson(await bachUpload(sb, dir));
    const images = bach.entries.map((e: any) => ({ url: e.url as string, i: Number(/u-(\d+)\.png$/.exec(e.source)![1]) }));
    // A PDF the sandbox stores as 'report.jpg' (bach's sandbox judges names, not bytes).
    const form = new FormData();
    form.append('files', new Blob([Buffer.from('%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n')]), 'report.jpg');
    const sub = (await (
      await fetch(`${sb.url}/api/vdr/batch-upload/submit-with-files`, { method: 'POST', body: form, headers: { authorization: `Bearer ${TOKEN}` } })
    ).json()) as any;
    let pdfUrl = '';
    await waitFor(async () => {
      const st = (await (
        await fetch(`${sb.url}/api/vdr/batch-upload/status/${sub.data.batch_id}`, { headers: { authorization: `Bearer ${TOKEN}` } })
      ).json()) as any;
      pdfUrl = st.data.results[0]?.image_url ?? '';
      return pdfUrl !== '';
    }, 'the PDF stored by bach');
    const dead = [0, 1, 2].map((k) => `${sb.url}/cdn/${String(k).repeat(64)}.png`);
    const urls: string[] = images.map((x: { url: string }) => x.url);
    urls.splice(10, 0, dead[0]!);
    urls.splice(100, 0, dead[1]!);
    urls.splice(150, 0, pdfUrl);
    urls.splice(200, 0, dead[2]!);
    expect(urls).toHaveLength(250);
    await writeFile(join(dir, 'urls.txt'), `${urls.join('\n')}\n`);

    const before = (await sb.stats()) as any;
    const manifest = join(dir, 'claid.json');
    const r = await cli(
      ['upload', '--urls', join(dir, 'urls.txt'), '--provider', 'claid', '--operations', '{"resizing":{"height":20}}', '--manifest', manifest],
      {
        env: env(sb),
      },
    );
    expect(r.exitCode, r.stderr).toBe(3);
    const m = await readJson(manifest);
    const bySource = new Map(m.entries.map((e: any) => [e.source, e]));
    for (const d of dead) {
      expect(bySource.get(d)).toMatchObject({ status: 'rejected', rule: 'unreachable', error: expect.stringContaining('HTTP 404') });
    }
    expect(bySource.get(pdfUrl)).toMatchObject({ status: 'rejected', rule: 'disguised', error: expect.stringContaining('content is PDF, not JPG') });
    expect(r.stderr).toContain('disguised');

    const edited = m.entries.filter((e: any) => e.status === 'uploaded');
    expect(edited).toHaveLength(246);
    for (const { url, i } of images) {
      const e: any = bySource.get(url);
      const { width, height } = sizeOf(i);
      expect(e.remote.input_object).toMatchObject({ width, height });
      expect(e.remote.output_object).toMatchObject({ height: 20, width: Math.floor((2 * 20 * width + height) / (2 * height)) });
    }
    // 246 URLs in batches of ≤ 100, none ERROR; the rejected URLs were never submitted.
    const ids = [...new Set(edited.map((e: any) => e.id))];
    expect(ids).toHaveLength(3);
    for (const id of ids) {
      const b = (await (await fetch(`${sb.url}/_sandbox/batches/claid-${id}`)).json()) as any;
      expect(b.view.status).toBe('DONE');
      expect(b.inputs.some((x: any) => dead.includes(x.url) || x.url === pdfUrl)).toBe(false);
    }
    const after = (await sb.stats()) as any;
    expect(after.claid.batches - before.claid.batches).toBe(3);
  });
});

describe('operations are checked before any request', () => {
  it('an unknown section: exit 2 naming it, and the sandbox sees no request', async () => {
    const sb = await start();
    const dir = await tempDir('batchup-claid-usage-');
    await writePngs(join(dir, 'in'), 3);
    const r = await cli(
      ['upload', join(dir, 'in'), '--provider', 'claid', '--operations', '{"resizing":{"width":5},"sharpen":{"amount":2}}', '--manifest', join(dir, 'm.json')],
      {
        env: env(sb),
      },
    );
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/--operations: unknown section 'sharpen'/);
    expect(claidRequests(await sb.stats())).toEqual([]);
  });
});
