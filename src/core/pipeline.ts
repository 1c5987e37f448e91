/**
 * One upload run: scan → (skip what the journal says is done) → validate → plan →
 * transfer/poll (per provider) → manifest. Emits typed events for the renderers; never touches
 * the terminal or exits the process. Per-file problems become manifest entries; only whole-run
 * problems (usage, config, auth) throw, and even then the manifest is written first.
 *
 * Crash safety: every batch is announced in the journal (fsync) before it is submitted and its
 * results are journaled (fsync) before the manifest is rewritten (atomically), so a rerun after a
 * kill polls announced batches instead of resubmitting them and skips finished inputs.
 */
import { setMaxListeners } from 'node:events';
import { basename, resolve } from 'node:path';
import { BatchupError, toBatchupError } from './errors.js';
import type { Emit, RunSummary } from './events.js';
import { Http } from './http.js';
import { decide, sha256File } from './incremental.js';
import { Journal, defaultStateDir, type JournalState } from './journal.js';
import { MANIFEST_VERSION, writeJsonAtomic, type Manifest, type ManifestEntry } from './manifest.js';
import { DEFAULT_MAX_MEMORY, MemoryBudget } from './memory.js';
import { checkTemplate, remoteName } from './naming.js';
import { DEFAULTS, type UploadOptions } from './options.js';
import { AdaptiveLimit, mapPool } from './pool.js';
import type { BatchPlan, ProviderContext } from './provider.js';
import { scan } from './scan.js';
import type { Candidate, Item, Rejection } from './types.js';
import { validateCandidate } from './validate/index.js';
import { inputOf, zipEntrySource } from './zip-source.js';
import { getProvider } from '../providers/registry.js';

const VALIDATE_CONCURRENCY = 16;
/** Failures after which the server may still hold the batch. */
const OUTCOME_UNKNOWN = new Set(['INTERRUPTED', 'NETWORK', 'HTTP_RETRYABLE', 'NOT_FOUND', 'PROTOCOL', 'REMOTE']);

export async function runUpload(opts: UploadOptions, emit: Emit, signal?: AbortSignal, now: () => number = Date.now): Promise<RunSummary> {
  const started = now();
  const provider = getProvider(opts.provider);
  if (opts.nameTemplate) checkTemplate(opts.nameTemplate);
  const manifestPath = resolve(opts.cwd, opts.manifestPath);
  const stateDir = opts.stateDir ? resolve(opts.cwd, opts.stateDir) : defaultStateDir(manifestPath, provider.name, opts.endpoint);

  // A dry run only reads the journal; a real run locks it for its whole duration.
  const journal = opts.dryRun ? undefined : await Journal.open(stateDir);
  try {
    const state = journal?.state ?? (await Journal.peek(stateDir));
    return await run(state);
  } finally {
    await journal?.close();
  }

  async function run(state: JournalState): Promise<RunSummary> {
    const { candidates, rejections: scanRejections } = await scan(opts);
    emit({ type: 'scan', candidates: candidates.length });

    // Entries by scan order (negative for scan rejections) so the manifest is stable run to run.
    const entries = new Map<number, ManifestEntry[]>();
    const rejected = (r: Rejection, order: number) => {
      emit({ type: 'reject', rejection: r });
      entries.set(order, [{ source: r.source, status: 'rejected', rule: r.rule, error: r.message, provider: provider.name, size: r.size, mtimeMs: r.mtimeMs }]);
    };
    scanRejections.forEach((r, i) => rejected(r, -scanRejections.length + i));

    // Incremental: inputs the journal knows as uploaded and unchanged are skipped on a stat alone.
    const toValidate: Candidate[] = [];
    await mapPool(candidates, VALIDATE_CONCURRENCY, async (c) => {
      const d = await decide(c, state, { force: !!opts.force, refreshBeforeMs: opts.refreshBeforeMs ?? DEFAULTS.refreshBeforeMs, now: now() });
      if (!d.skip) return toValidate.push(c);
      if (d.rehashed) journal?.append({ t: 'file', source: c.source, size: c.size!, mtimeMs: c.mtimeMs!, sha256: d.rehashed.sha256 });
      entries.set(c.order, d.entries);
      emit({ type: 'skip', source: c.source, reason: d.rehashed ? 'content unchanged (only the modification time moved)' : 'unchanged since the last upload' });
      for (const e of d.entries) emit({ type: 'result', entry: e });
    });

    // Inputs of earlier runs that are gone: reported, kept in the manifest unless --prune.
    const present = new Set([...candidates.map((c) => c.source), ...scanRejections.map((r) => r.source)]);
    const gone = [...state.entries.keys()].filter((s) => !present.has(s));
    for (const source of gone) emit({ type: 'gone', source, pruned: !!opts.prune });
    if (opts.prune && gone.length) journal?.append({ t: 'forget', sources: gone }, true);
    const keptGone = opts.prune ? [] : gone.map((s) => state.entries.get(s)!);

    const items: Item[] = [];
    await mapPool(toValidate, VALIDATE_CONCURRENCY, async (c) => {
      const res = await validateCandidate(c, provider.policy);
      if (res.ok) items.push({ ...res.item, name: remoteName(c.source, c.order, opts.nameTemplate), generation: state.generations.get(c.source) ?? 0 });
      else rejected(res.rejection, c.order);
    });
    items.sort((a, b) => a.order - b.order);
    // Provider rules that need the whole set (e.g. two inputs with one remote name), before planning.
    for (const { item, rule, detail } of provider.screen?.(items) ?? []) {
      items.splice(items.indexOf(item), 1);
      rejected({ source: item.source, rule, message: `${basename(item.source)}: ${detail} (${rule})`, size: item.size, mtimeMs: item.mtimeMs }, item.order);
    }

    // Batches an earlier run announced but never saw finish: resume them under the same id, as
    // long as they would hold exactly the same inputs; otherwise plan those inputs afresh.
    const bySource = new Map(items.map((it) => [it.source, it]));
    const resumed: BatchPlan[] = [];
    for (const p of state.pending.values()) {
      const its = p.sources.map((s) => bySource.get(s));
      if (opts.force || !its.every((it): it is Item => !!it)) {
        journal?.append({ t: 'entries', batchId: p.batchId, entries: [] });
        continue;
      }
      for (const it of its) bySource.delete(it.source);
      resumed.push({
        batchId: p.batchId,
        mode: p.mode,
        reason: 'announced by an interrupted run: look it up, submit only if the server does not have it',
        files: its.length,
        images: its.reduce((n, it) => n + (it.format === 'zip' ? it.zipEntries?.length ?? 0 : 1), 0),
        bytes: its.reduce((n, it) => n + (it.size ?? 0), 0),
        sources: p.sources,
        items: its,
        resumed: true,
      });
    }
    const fresh = items.filter((it) => bySource.has(it.source));
    const batches = [...resumed, ...provider.plan({ items: fresh, mode: opts.mode, batchId: opts.batchId, maxBatchFiles: opts.maxBatchFiles })];
    emit({ type: 'plan', provider: provider.name, dryRun: opts.dryRun, batches: batches.map(({ items: _items, resumed: _r, ...b }) => b) });

    const all = () => [...[...entries.entries()].sort((a, b) => a[0] - b[0]).flatMap(([, e]) => e), ...keptGone.flat()];
    const counts = () => {
      const n = (s: ManifestEntry['status']) => [...entries.values()].flat().filter((e) => e.status === s).length;
      return { uploaded: n('uploaded'), skipped: n('skipped'), rejected: n('rejected'), failed: n('failed') };
    };
    let bytes = 0;
    let interrupted = false;
    const summary = (): RunSummary => ({
      ...counts(),
      bytes,
      durationMs: now() - started,
      manifestPath: opts.dryRun ? undefined : manifestPath,
      interrupted,
      dryRun: opts.dryRun,
    });

    if (opts.dryRun) {
      const s = summary();
      emit({ type: 'summary', summary: s });
      return s;
    }

    const createdAt = new Date(started).toISOString();
    const writeManifest = async () => {
      const { manifestPath: _p, ...s } = summary();
      const manifest: Manifest = {
        version: MANIFEST_VERSION,
        tool: 'batchup',
        provider: provider.name,
        endpoint: opts.endpoint,
        createdAt,
        updatedAt: new Date(now()).toISOString(),
        summary: s,
        ...extra,
        entries: all(),
      };
      await writeJsonAtomic(manifestPath, manifest);
    };

    const http = new Http({ timeoutMs: opts.timeoutMs, connections: Math.max(4, opts.concurrency * 2) });
    // An internal controller so a fatal error (bad credentials) or --max-duration stops every batch.
    const ctl = new AbortController();
    setMaxListeners(0, ctl.signal); // every request and pause in flight listens to it
    const stop = () => {
      interrupted = true;
      ctl.abort();
    };
    signal?.addEventListener('abort', stop, { once: true });
    if (signal?.aborted) stop(); // interrupted while scanning or validating
    const deadline = opts.maxDurationMs ? setTimeout(stop, opts.maxDurationMs) : undefined;
    // 429/503 anywhere slows the whole pool down (AIMD); finished batches speed it up again.
    const limit = new AdaptiveLimit(opts.concurrency);
    const ctx: ProviderContext = {
      endpoint: opts.endpoint,
      auth: opts.auth,
      http,
      emit: (e) => {
        if (e.type === 'retry' && (e.status === 429 || e.status === 503)) limit.throttled();
        emit(e);
      },
      signal: ctl.signal,
      options: opts,
      retry: { maxRetries: opts.maxRetries },
      now,
      state: { get: (k) => journal!.kvGet(k), put: (k, v, o) => journal!.kvPut(k, v, o?.untilBatchDone) },
      memory: new MemoryBudget(opts.maxMemory ?? DEFAULT_MAX_MEMORY),
    };
    let fatal: BatchupError | undefined;
    let extra: Record<string, unknown> | undefined; // top-level manifest fields from the provider
    // Serialise manifest writes: each finished batch rewrites it, so a crash keeps what is done.
    let writing = Promise.resolve();
    const checkpoint = () => (writing = writing.then(writeManifest));

    try {
      if (batches.length) {
        await provider.prepare?.(ctx);
        await writeManifest(); // skips and rejections are on disk before the first byte is sent
      }
      await mapPool(batches, opts.concurrency, async (batch) => {
        await limit.acquire();
        try {
          await runOne(batch);
        } finally {
          limit.release();
        }
      });
      if (!ctl.signal.aborted) extra = await provider.afterUpload?.(ctx, all());
    } catch (raw) {
      fatal ??= toBatchupError(raw);
    } finally {
      signal?.removeEventListener('abort', stop);
      clearTimeout(deadline);
      await http.close().catch(() => {});
    }

    await writing;
    await writeManifest();
    emit({ type: 'manifest', path: manifestPath });
    const s = summary();
    emit({ type: 'summary', summary: s });
    if (fatal) throw fatal;
    return s;

    async function runOne(batch: BatchPlan): Promise<void> {
      if (ctl.signal.aborted) return void recordFailure(batch, notStarted(fatal));
      journal?.append({ t: 'batch', batchId: batch.batchId, mode: batch.mode, sources: batch.sources }, true);
      try {
        const result = await provider.runBatch(batch, ctx);
        bytes += batch.bytes;
        const byInput = groupBy(result, (e) => inputOf(e.source));
        for (const it of batch.items) {
          if (it.kind !== 'file') continue;
          const own = (byInput.get(it.source) ?? []).filter((e) => e.source === it.source);
          // Hashed while sent (on the item, or only on its entry); a batch found on the server
          // (resumed, lost response) was not streamed: hash it now, so the next run can recognise
          // the file as unchanged.
          it.sha256 ??= own.find((e) => e.sha256)?.sha256 ?? (await sha256File(it.path!));
          journal?.append({ t: 'file', source: it.source, size: it.size!, mtimeMs: it.mtimeMs!, sha256: it.sha256 });
          for (const e of own) e.sha256 ??= it.sha256;
        }
        journal?.append({ t: 'entries', batchId: batch.batchId, entries: result }, true);
        for (const it of batch.items) entries.set(it.order, byInput.get(it.source) ?? []);
        for (const e of result) emit({ type: 'result', entry: e });
        limit.succeeded();
        emit({ type: 'batch-done', batchId: batch.batchId, uploaded: result.filter((e) => e.status === 'uploaded').length, failed: result.filter((e) => e.status !== 'uploaded').length });
      } catch (raw) {
        const err = toBatchupError(raw);
        if (err.code === 'AUTH' && !fatal) {
          fatal = err;
          ctl.abort();
        }
        const shown = ctl.signal.aborted && err.code === 'INTERRUPTED' ? notStarted(fatal) : err;
        emit({ type: 'batch-failed', batchId: batch.batchId, error: shown.message, code: shown.code });
        const failed = recordFailure(batch, shown);
        // When the server may have the batch (interrupted, network, 5xx, lost in polling) it stays
        // announced, so the next run looks it up under the same id instead of sending it again.
        if (!OUTCOME_UNKNOWN.has(shown.code)) journal?.append({ t: 'entries', batchId: batch.batchId, entries: failed }, true);
      }
      await checkpoint();
    }

    function recordFailure(batch: BatchPlan, err: BatchupError): ManifestEntry[] {
      const finishedAt = new Date(now()).toISOString();
      const out: ManifestEntry[] = [];
      for (const it of batch.items) {
        const base = { status: 'failed' as const, provider: provider.name, batchId: batch.batchId, mode: batch.mode, code: err.code, finishedAt };
        const list: ManifestEntry[] =
          it.format === 'zip' && it.zipEntries?.length
            ? it.zipEntries.map((z) => ({ ...base, source: zipEntrySource(it.source, z.path), size: z.size, format: z.format, error: `${zipEntrySource(it.source, z.path)}: ${err.message}` }))
            : [{ ...base, source: it.source, name: it.name, size: it.size, mtimeMs: it.mtimeMs, format: it.format, error: `${it.source}: ${err.message}` }];
        entries.set(it.order, list);
        out.push(...list);
        for (const e of list) emit({ type: 'result', entry: e });
      }
      return out;
    }
  }
}

const notStarted = (fatal?: BatchupError) =>
  fatal ?? new BatchupError('INTERRUPTED', 'interrupted before the upload finished', { retryable: false });

function groupBy<T>(list: T[], key: (t: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const t of list) {
    const k = key(t);
    const list = m.get(k);
    if (list) list.push(t);
    else m.set(k, [t]);
  }
  return m;
}
