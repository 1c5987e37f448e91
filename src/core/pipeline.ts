/**
 * One upload run: scan → validate → plan → transfer/poll (per provider) → manifest.
 * Emits typed events for the renderers; never touches the terminal or exits the process.
 * Per-file problems become manifest entries; only whole-run problems (usage, config, auth) throw,
 * and even then the manifest of what happened so far is written first.
 */
import { resolve } from 'node:path';
import { BatchupError, toBatchupError } from './errors.js';
import type { Emit, RunSummary } from './events.js';
import { Http } from './http.js';
import { MANIFEST_VERSION, writeJsonAtomic, type Manifest, type ManifestEntry } from './manifest.js';
import { checkTemplate, remoteName } from './naming.js';
import type { UploadOptions } from './options.js';
import { mapPool } from './pool.js';
import type { BatchPlan, ProviderContext } from './provider.js';
import { scan } from './scan.js';
import type { Item, Rejection } from './types.js';
import { validateCandidate } from './validate/index.js';
import { getProvider } from '../providers/registry.js';

const VALIDATE_CONCURRENCY = 16;

export async function runUpload(opts: UploadOptions, emit: Emit, signal?: AbortSignal, now: () => number = Date.now): Promise<RunSummary> {
  const started = now();
  const provider = getProvider(opts.provider);
  if (opts.nameTemplate) checkTemplate(opts.nameTemplate);
  const manifestPath = resolve(opts.cwd, opts.manifestPath);

  const { candidates, rejections: scanRejections } = await scan(opts);
  emit({ type: 'scan', candidates: candidates.length });

  // Entries are kept by scan order so the manifest is stable run to run.
  const entries = new Map<number, ManifestEntry[]>();
  const rejected = (r: Rejection, order: number) => {
    emit({ type: 'reject', rejection: r });
    entries.set(order, [{ source: r.source, status: 'rejected', rule: r.rule, error: r.message, provider: provider.name, size: r.size, mtimeMs: r.mtimeMs }]);
  };
  scanRejections.forEach((r, i) => rejected(r, -scanRejections.length + i));

  const items: Item[] = [];
  await mapPool(candidates, VALIDATE_CONCURRENCY, async (c) => {
    const res = await validateCandidate(c, provider.policy);
    if (res.ok) items.push({ ...res.item, name: remoteName(c.source, c.order, opts.nameTemplate) });
    else rejected(res.rejection, c.order);
  });
  items.sort((a, b) => a.order - b.order);

  const batches = provider.plan({ items, mode: opts.mode, batchId: opts.batchId, salt: '', maxBatchFiles: opts.maxBatchFiles });
  emit({ type: 'plan', provider: provider.name, dryRun: opts.dryRun, batches: batches.map(({ items: _items, ...b }) => b) });

  const counts = () => {
    const all = [...entries.values()].flat();
    const n = (s: ManifestEntry['status']) => all.filter((e) => e.status === s).length;
    return { uploaded: n('uploaded'), skipped: n('skipped'), rejected: n('rejected'), failed: n('failed') };
  };
  let bytes = 0;
  const summary = (interrupted: boolean): RunSummary => ({
    ...counts(),
    bytes,
    durationMs: now() - started,
    manifestPath: opts.dryRun ? undefined : manifestPath,
    interrupted,
    dryRun: opts.dryRun,
  });

  if (opts.dryRun) {
    const s = summary(false);
    emit({ type: 'summary', summary: s });
    return s;
  }

  const createdAt = new Date(started).toISOString();
  const writeManifest = async (interrupted: boolean) => {
    const { manifestPath: _p, ...s } = summary(interrupted);
    const manifest: Manifest = {
      version: MANIFEST_VERSION,
      tool: 'batchup',
      provider: provider.name,
      endpoint: opts.endpoint,
      createdAt,
      updatedAt: new Date(now()).toISOString(),
      summary: s,
      entries: [...entries.entries()].sort((a, b) => a[0] - b[0]).flatMap(([, e]) => e),
    };
    await writeJsonAtomic(manifestPath, manifest);
  };

  const http = new Http({ timeoutMs: opts.timeoutMs, connections: Math.max(4, opts.concurrency * 2) });
  // An internal controller so a fatal error (bad credentials) stops the other batches too.
  const run = new AbortController();
  const onAbort = () => run.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  const ctx: ProviderContext = {
    endpoint: opts.endpoint,
    auth: opts.auth,
    http,
    emit,
    signal: run.signal,
    options: opts,
    retry: { maxRetries: opts.maxRetries },
    now,
    state: memoryState(),
  };
  let fatal: BatchupError | undefined;
  // Serialise manifest writes: each finished batch rewrites it, so a crash keeps what is done.
  let writing = Promise.resolve();
  const checkpoint = () => (writing = writing.then(() => writeManifest(false)));

  try {
    if (batches.length) await provider.prepare?.(ctx);
    await mapPool(batches, opts.concurrency, async (batch) => {
      if (run.signal.aborted) return recordFailure(batch, notStarted(fatal));
      try {
        const result = await provider.runBatch(batch, ctx);
        bytes += batch.bytes;
        const bySource = groupBy(result, (e) => e.source.split('!/')[0]!);
        for (const it of batch.items) entries.set(it.order, bySource.get(it.source) ?? []);
        for (const e of result) emit({ type: 'result', entry: e });
        emit({ type: 'batch-done', batchId: batch.batchId, uploaded: result.filter((e) => e.status === 'uploaded').length, failed: result.filter((e) => e.status !== 'uploaded').length });
      } catch (raw) {
        const err = toBatchupError(raw);
        if (err.code === 'AUTH' && !fatal) {
          fatal = err;
          run.abort();
        }
        const shown = run.signal.aborted && err.code === 'INTERRUPTED' ? notStarted(fatal) : err;
        emit({ type: 'batch-failed', batchId: batch.batchId, error: shown.message, code: shown.code });
        recordFailure(batch, shown);
      }
      await checkpoint();
    });
  } catch (raw) {
    fatal ??= toBatchupError(raw);
  } finally {
    signal?.removeEventListener('abort', onAbort);
    await http.close().catch(() => {});
  }

  const interrupted = !!signal?.aborted;
  await writing;
  await writeManifest(interrupted);
  emit({ type: 'manifest', path: manifestPath });
  const s = summary(interrupted);
  emit({ type: 'summary', summary: s });
  if (fatal) throw fatal;
  return s;

  function recordFailure(batch: BatchPlan, err: BatchupError) {
    const finishedAt = new Date(now()).toISOString();
    for (const it of batch.items) {
      const base = { status: 'failed' as const, provider: provider.name, batchId: batch.batchId, mode: batch.mode, code: err.code, finishedAt };
      const list: ManifestEntry[] =
        it.format === 'zip' && it.zipEntries?.length
          ? it.zipEntries.map((z) => ({ ...base, source: `${it.source}!/${z.path}`, size: z.size, format: z.format, error: `${it.source}!/${z.path}: ${err.message}` }))
          : [{ ...base, source: it.source, name: it.name, size: it.size, mtimeMs: it.mtimeMs, format: it.format, error: `${it.source}: ${err.message}` }];
      entries.set(it.order, list);
      for (const e of list) emit({ type: 'result', entry: e });
    }
  }
}

const notStarted = (fatal?: BatchupError) =>
  fatal ?? new BatchupError('INTERRUPTED', 'interrupted before the upload finished', { retryable: false });

function groupBy<T>(list: T[], key: (t: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const t of list) {
    const k = key(t);
    m.set(k, [...(m.get(k) ?? []), t]);
  }
  return m;
}

/** Session state kept in memory (until the journal backs it). */
function memoryState(): ProviderContext['state'] {
  const m = new Map<string, unknown>();
  return {
    get: <T>(k: string) => m.get(k) as T | undefined,
    put: (k, v) => (v === null ? m.delete(k) : m.set(k, v)),
  };
}
