/**
 * blurb's row of the conformance table. Its inputs are spec files (one batch of one render each,
 * assets on a loopback static server), so "stored exactly once" is: the sandbox holds exactly one
 * batch per spec (by its ref), every render COMPLETED, and the manifest's URL of it downloads.
 *
 * Where it differs, and why: a POST whose answer was lost (500, reset, a lost answer) fails the
 * batch as UNKNOWN_OUTCOME by design — blurb has no lookup by ref, and a render costs money — so
 * the faults scenario injects the faults whose outcome is known (429, 503), and the kill
 * scenarios are blurb's own (blurb.test.ts beside this file).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { download, readJson } from '../helpers/cli.js';
import { batch, sandboxBatches, serveFolder, writeAssets, type StaticServer } from '../helpers/blurb.js';
import { tempDir } from '../helpers/cli.js';
import type { ProviderCase } from './providers.js';

let assets: Promise<StaticServer> | undefined;
/** One asset server for every scenario (it ends with the test process). */
export function blurbAssets(): Promise<StaticServer> {
  assets ??= (async () => {
    const dir = await tempDir('batchup-blurb-assets-');
    await writeAssets(dir);
    return serveFolder(dir);
  })();
  return assets;
}

/** Writes `n` specs of one batch (one render) each; distinct content, so distinct derived refs. */
export async function writeSpecs(dir: string, n: number, seed: number): Promise<string[]> {
  const a = await blurbAssets();
  await mkdir(dir, { recursive: true });
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const p = join(dir, `spec-${seed}-${i}.json`);
    const body = batch(undefined, { artwork: `${a.url}/cover.png`, audio: `${a.url}/track.mp3` });
    (body.renders as any[])[0].requiredData.customText = `seed ${seed + i}`;
    await writeFile(p, JSON.stringify(body));
    out.push(p);
  }
  return out;
}

export const blurbCase: ProviderCase = {
  name: 'blurb',
  endpoint: (sb) => sb.url,
  storesAt: ['blurb.batches.create'],
  args: () => [],
  inputs: writeSpecs,
  invalid: async (dir) => {
    await mkdir(dir, { recursive: true });
    const p = join(dir, 'not-a-spec.json');
    await writeFile(p, 'this is not what the extension says\n');
    return { path: p, rule: 'invalid-spec' };
  },
  faults: '503,429',
  kills: false,
  async storedOnce(sb, manifestPath, inputs, statuses) {
    const m = await readJson(manifestPath);
    const held = (await sandboxBatches(sb.url)).batches as any[];
    for (const path of inputs) {
      const own = m.entries.filter((e: any) => e.source.startsWith(`${path}#`));
      if (own.length !== 1) throw new Error(`blurb: ${path} has ${own.length} entries`);
      const e = own[0];
      if (!statuses.includes(e.status)) throw new Error(`blurb: ${path}: ${e.status} ${e.error ?? ''}`);
      const ref = e.source.slice(path.length + 1, e.source.indexOf('!/'));
      const batches = held.filter((b) => b.ref === ref);
      if (batches.length !== 1) throw new Error(`blurb: ${ref} was created ${batches.length} times`);
      if (batches[0].renders[0].renderUrl !== e.url || batches[0].status !== 'COMPLETED') throw new Error(`blurb: ${ref} is not what the manifest says`);
      if ((await download(e.url)).length === 0) throw new Error(`blurb: ${e.url} is empty`);
    }
    return m;
  },
};
