/**
 * The conformance table: one row per provider adapter, saying how to reach it on `batchup serve`,
 * which flags it needs, and how to make valid inputs for it (and one input it must refuse).
 * conformance.test.ts runs the same scenarios over every row, and fails when a provider in the
 * registry has no row — so a new provider gets the whole suite by adding one entry here.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ManifestEntry } from '../../src/core/manifest.js';
import { makePdf } from '../../src/devtools/documents.js';
import { makePng } from '../../src/devtools/generate.js';
import { writeMp4 } from '../../src/devtools/video.js';
import type { ServeHandle } from '../helpers/cli.js';
import { blurbCase } from './blurb-case.js';

export interface ProviderCase {
  name: string;
  /** The endpoint (`--endpoint` / BATCHUP_ENDPOINT) this provider has on the sandbox. */
  endpoint(sb: ServeHandle): string;
  /** Flags the provider needs on every upload (`run` differs per scenario run). */
  args(run: string): string[];
  /** Write `count` distinct valid inputs into `dir`; returns their paths. */
  inputs(dir: string, count: number, seed: number): Promise<string[]>;
  /** Write one input this provider must refuse, and the rule it must be refused with. */
  invalid(dir: string): Promise<{ path: string; rule: string }>;
  /** Flags that make the run send more, smaller requests (more chances for a throttling answer). */
  chatty?: string[];
  /** The sandbox routes whose handling stores an input (a receipt): where a lost answer hurts most. */
  storesAt: string[];
  /** Extra checks of a finished run's uploaded entries (e.g. aihub: all in one batch). */
  check?(sb: ServeHandle, uploaded: ManifestEntry[], run: string): Promise<void>;
  /** What "each input stored exactly once" means when an input is not a file sent as it is (blurb: a spec's batches). */
  storedOnce?(sb: ServeHandle, manifestPath: string, inputs: string[], statuses: string[]): Promise<unknown>;
  /** The fault kinds of the faults scenario, when some make an outcome unknowable by design (default: all). */
  faults?: string;
  /** false: a submission whose answer was lost cannot be looked up — the kill scenarios are the provider's own. */
  kills?: false;
  /**
   * What was stored cannot be looked up when its answer is lost (a synchronous edit): such an
   * input is sent again. Then "stored exactly once" becomes: at least once, and at most once more
   * per answer the sandbox dropped (`lost` faults) and per kill -9.
   */
  resendsLostAnswers?: boolean;
}

async function writeAll(dir: string, files: [string, Buffer][]): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const out: string[] = [];
  for (const [name, data] of files) {
    const p = join(dir, name);
    await writeFile(p, data);
    out.push(p);
  }
  return out;
}

const text = Buffer.from('this is not what the extension says\n');

export const CASES: ProviderCase[] = [
  blurbCase,
  {
    name: 'bach',
    endpoint: (sb) => `${sb.url}/api/vdr`,
    storesAt: ['bach.submit-with-files', 'bach.submit'],
    chatty: ['--batch-size', '1'],
    args: () => [],
    inputs: (dir, n, seed) =>
      writeAll(
        dir,
        Array.from({ length: n }, (_, i) => [`img-${i}.png`, makePng(seed + i)] as [string, Buffer]),
      ),
    invalid: async (dir) => ({ path: (await writeAll(dir, [['not-an-image.png', text]]))[0]!, rule: 'disguised' }),
  },
  {
    name: 'hybrid',
    endpoint: (sb) => sb.url,
    storesAt: ['hybrid.complete'],
    args: () => ['--channel-id', 'conformance'],
    async inputs(dir, n, seed) {
      await mkdir(dir, { recursive: true });
      const out: string[] = [];
      for (let i = 0; i < n; i++) {
        const p = join(dir, `clip-${i}.mp4`);
        // Sizes differ per seed so every clip is distinct even where the payload repeats.
        await writeMp4(p, 20_000 + (seed % 1000) * 7 + i * 101);
        out.push(p);
      }
      return out;
    },
    invalid: async (dir) => ({ path: (await writeAll(dir, [['not-a-video.mp4', text]]))[0]!, rule: 'disguised' }),
  },
  {
    name: 'aihub',
    endpoint: (sb) => `${sb.url}/api`,
    storesAt: ['aihub.files.put', 'aihub.multipart.session'],
    args: (run) => ['--batch-name', `conformance ${run}`, '--ib-context', 'org-conformance'],
    inputs: (dir, n, seed) =>
      writeAll(
        dir,
        Array.from({ length: n }, (_, i) => (i % 2 ? [`doc-${i}.pdf`, makePdf(seed + i)] : [`page-${i}.png`, makePng(seed + i)]) as [string, Buffer]),
      ),
    invalid: async (dir) => ({ path: (await writeAll(dir, [['not-a-document.pdf', text]]))[0]!, rule: 'disguised' }),
    async check(sb, uploaded, run) {
      const ids = new Set(uploaded.map((e) => e.batchId));
      if (ids.size !== 1) throw new Error(`aihub: expected one batch, got ${[...ids].join(', ')}`);
      const b = (await (await fetch(`${sb.url}/_sandbox/batches/aihub-${[...ids][0]}`)).json()) as any;
      if (b.name !== `conformance ${run}`) throw new Error(`aihub: batch is named ${b.name}`);
      const names = b.files.map((f: any) => f.name).sort();
      const want = uploaded.map((e) => e.name).sort();
      if (JSON.stringify(names) !== JSON.stringify(want)) throw new Error(`aihub: batch holds ${names.join(',')}, expected ${want.join(',')}`);
      if (Object.keys(b.contexts).some((c) => c !== 'org-conformance')) throw new Error(`aihub: a request without IB-Context: ${JSON.stringify(b.contexts)}`);
    },
  },
  {
    name: 'claid',
    endpoint: (sb) => sb.url,
    storesAt: ['claid.upload', 'claid.batch'],
    args: () => ['--operations', '{"resizing":{"width":8}}'],
    inputs: (dir, n, seed) =>
      writeAll(
        dir,
        Array.from({ length: n }, (_, i) => [`photo-${i}.png`, makePng(seed + i)] as [string, Buffer]),
      ),
    invalid: async (dir) => ({ path: (await writeAll(dir, [['not-a-photo.png', text]]))[0]!, rule: 'disguised' }),
    // Local files go through claid's synchronous upload edit, which has no lookup: an answer lost
    // after the server edited the file (a dropped answer, a kill while it is on its way) means the
    // file is sent again. The batch path (URLs, storage folders) journals its ids instead.
    resendsLostAnswers: true,
    async check(_sb, uploaded) {
      for (const e of uploaded) {
        const out = (e.remote as any)?.output_object;
        if (e.mode !== 'upload' || out?.width !== 8 || out?.height !== 8 || !e.url?.endsWith('.jpeg') || !e.expiresAt) {
          throw new Error(`claid: ${e.source}: unexpected entry ${JSON.stringify(e)}`);
        }
      }
    },
  },
];
