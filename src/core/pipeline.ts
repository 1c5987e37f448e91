/**
 * One upload run: scan → (skip what the journal says is done) → validate → plan →
 * transfer/poll (the provider's run) → manifest. Emits typed events for the renderers; never
 * touches the terminal or exits the process. Per-file problems become manifest entries; only
 * whole-run problems (usage, config, auth) throw, and even then the manifest is written first.
 *
 * The provider module comes from the caller (the CLI's registry): core knows no provider. What
 * the module declares is enforced here: the input kinds and `--mode` values it takes, its
 * parameters' fingerprint (an input done under other parameters is done again).
 *
 * Crash safety: every batch is announced in the journal (fsync) before it is submitted and its
 * results are journaled (fsync) before the manifest is rewritten (atomically), so a rerun after a
 * kill polls announced batches instead of resubmitting them and skips finished inputs. An input a
 * provider finishes mid-batch (`settle`) is journaled at once.
 */
import { setMaxListeners } from 'node:events';
import { resolve } from 'node:path';
import { inputEntry, failedEntry } from './entries.js';
import { BatchupError, toBatchupError, usageError } from './errors.js';
import type { BatchupEvent, Emit, RunSummary } from './events.js';
import { Http } from './http.js';
import { Downloader } from './download.js';
import { sha256File } from './incremental.js';
import { gatherInputs } from './inputs.js';
import { type Fingerprint, type InputResult, ordered } from './journal-codec.js';
import { Journal, StateLock, defaultStateDir, type JournalState } from './journal.js';
import { manifestHead, runSummary, writeManifestStream, type ManifestEntry } from './manifest.js';
import { type RerunContext, dropIndex, quickRerun, recordRerun } from './rerun-index.js';
import type { CandidateList, ScanResult } from './scan.js';
import { formatBytes } from './text.js';
import { DEFAULT_MAX_MEMORY, MemoryBudget } from './memory.js';
import { checkTemplate } from './naming.js';
import type { UploadOptions } from './options.js';
import { forEachPool } from './pool.js';
import type { AnyProvider, BatchPlan, ProviderContext, ProviderRun } from './provider.js';
import type { Item } from './types.js';
import { inputOf, zipEntrySource } from './zip-source.js';

/** Failures after which the server may still hold the batch. */
const OUTCOME_UNKNOWN = new Set(['INTERRUPTED', 'NETWORK', 'HTTP_RETRYABLE', 'NOT_FOUND', 'PROTOCOL', 'REMOTE', 'UNKNOWN_OUTCOME']);

export async function runUpload<O>(
  provider: AnyProvider,
  providerOptions: O,
  opts: UploadOptions,
  emit: Emit,
  signal?: AbortSignal,
  now: () => number = Date.now,
): Promise<RunSummary> {
  const started = now();
  if (opts.mode !== 'auto' && !provider.capabilities.modes.includes(opts.mode)) {
    const takes = provider.capabilities.modes.length ? `it takes ${provider.capabilities.modes.join(', ')}` : 'it picks the path for each file itself';
    throw usageError(`--mode ${opts.mode} does not apply to provider ${provider.name} (${takes})`);
  }
  if (opts.nameTemplate) checkTemplate(opts.nameTemplate);
  const params = provider.fingerprint?.(providerOptions) ?? '';
  const manifestPath = resolve(opts.cwd, opts.manifestPath);
  const stateDir = opts.stateDir ? resolve(opts.cwd, opts.stateDir) : defaultStateDir(manifestPath, provider.name, opts.endpoint);

  const rerun: RerunContext = { provider, opts, params, manifestPath, stateDir };
  // A dry run only reads the journal; a real run locks the state for its whole duration.
  const lock = opts.dryRun ? undefined : await StateLock.take(stateDir);
  let journal: Journal | undefined;
  // Set once the run is complete: what the rerun index is made of.
  let complete: { candidates: CandidateList; summary: RunSummary } | undefined;
  try {
    let scanned: ScanResult | undefined;
    if (lock) {
      const quick = await quickRerun({ ...rerun, emit, now, started, signal });
      if (quick.summary) return quick.summary;
      scanned = quick.scanned;
      await dropIndex(stateDir);
      journal = await Journal.open(stateDir, lock);
    }
    const state = journal?.state ?? (await Journal.peek(stateDir));
    return await run(state, scanned);
  } finally {
    const done = complete;
    // The index describes the journal as closed (on disk), so it is written after, under the lock; it is only a cache.
    if (journal) await journal.close(async () => void (done && (await recordRerun(rerun, journal!.state, done.candidates, done.summary).catch(() => {}))));
    else await lock?.release();
  }

  async function run(state: JournalState, scanned: ScanResult | undefined): Promise<RunSummary> {
    // Checks and downloads go to other origins: an Http without credentials, made only when needed.
    const plainHttp = provider.expand || provider.check || opts.downloadDir ? new Http({ timeoutMs: opts.timeoutMs, connections: 8, now }) : undefined;
    try {
      return await transfer(state, plainHttp, scanned);
    } finally {
      await plainHttp?.close().catch(() => {});
    }
  }

  async function transfer(state: JournalState, plainHttp: Http | undefined, scanned: ScanResult | undefined): Promise<RunSummary> {
    const checkSignal = signal ?? new AbortController().signal;
    const check = plainHttp && { http: plainHttp, options: providerOptions, signal: checkSignal, cwd: opts.cwd, concurrency: Math.max(4, opts.concurrency) };
    const gathered = await gatherInputs({ provider, providerOptions, params, opts, state, journal, emit, now, check, scanned });
    const { batches, results, keptGone } = gathered;

    // Bytes of file content this run really sent: the furthest each file's body got, less what
    // the server already had; per file while its batch runs, then added up.
    const sent = new Map<string, { max: number; had: number }>();
    let sentDone = 0;
    const bytes = () => {
      let n = sentDone;
      for (const s of sent.values()) n += Math.max(0, s.max - s.had);
      return n;
    };
    const sentSettled = (batch: BatchPlan) => {
      for (const it of batch.items) {
        const s = sent.get(it.source);
        if (!s) continue;
        sentDone += Math.max(0, s.max - s.had);
        sent.delete(it.source);
      }
    };
    let interrupted = false;
    let downloadFailures = 0;
    const summary = (): RunSummary =>
      runSummary(results.counts, {
        downloadFailures,
        bytes: bytes(),
        durationMs: now() - started,
        manifestPath: opts.dryRun ? undefined : manifestPath,
        interrupted,
        dryRun: opts.dryRun,
      });

    if (opts.dryRun) {
      for await (const _ of batches); // validates and plans everything (the plan event shows it)
      const s = summary();
      emit({ type: 'summary', summary: s });
      return s;
    }

    let extra: Record<string, unknown> | undefined; // top-level manifest fields from the provider
    const createdAt = new Date(started).toISOString();
    function* all(): Iterable<ManifestEntry> {
      yield* results.all();
      for (const source of keptGone) yield* state.entries(source) ?? [];
    }
    // The manifest is written from the journal's state entry by entry, never held whole.
    let lastWriteMs = 0;
    let lastWriteEnd = 0;
    const writeManifest = async () => {
      const t0 = performance.now();
      const head = manifestHead({
        provider: provider.name,
        endpoint: opts.endpoint,
        createdAt,
        updatedAt: new Date(now()).toISOString(),
        summary: summary(),
        shard: opts.shard,
        extra,
      });
      await writeManifestStream(manifestPath, head, all());
      lastWriteEnd = performance.now();
      lastWriteMs = lastWriteEnd - t0;
    };

    const http = new Http({
      timeoutMs: opts.timeoutMs,
      connections: Math.max(8, opts.concurrency * 2),
      credentials: opts.credentials,
      allowInsecureHttp: opts.allowInsecureHttp,
      learnFirst: provider.capabilities.rateLimitHeaders,
      now,
      bandwidth: opts.bandwidth,
    });
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

    const settled = new Set<string>();
    const submitted = new Set<string>();
    const record = (e: BatchupEvent) => {
      if (e.type === 'batch-submitted') submitted.add(e.batchId);
      if (e.type === 'file-progress') {
        const s = sent.get(e.source) ?? { max: 0, had: 0 };
        s.max = Math.max(s.max, e.sent);
        if (e.resumed !== undefined) s.had = Math.max(s.had, e.resumed);
        sent.set(e.source, s);
      }
      emit(e);
    };
    const fingerprint = (it: Item): Fingerprint | undefined =>
      it.kind === 'file' && it.sha256 ? { size: it.size!, mtimeMs: it.mtimeMs!, sha256: it.sha256 } : undefined;
    const ctx: ProviderContext<O> = {
      endpoint: opts.endpoint,
      http,
      emit: record,
      signal: ctl.signal,
      options: providerOptions,
      run: {
        concurrency: opts.concurrency,
        batchId: opts.batchId,
        maxMemory: opts.maxMemory,
        force: opts.force,
        cwd: opts.cwd,
        poll: { initialMs: opts.pollIntervalMs, maxMs: opts.pollMaxIntervalMs, timeoutMs: opts.pollTimeoutMs },
      },
      retry: { maxRetries: opts.maxRetries },
      now,
      state: { get: (k) => journal!.kvGet(k), put: (k, v, o) => journal!.kvPut(k, v, o?.untilBatchDone) },
      memory: new MemoryBudget(opts.maxMemory ?? DEFAULT_MAX_MEMORY),
      settle(it, list, drop) {
        // Not awaited (settle is synchronous): the line is written now, its fsync joins the others (and close() forces them all).
        journal!.record([{ source: it.source, entries: list, fp: fingerprint(it) }], { params, drop }).catch(() => undefined);
        settled.add(it.source);
        results.recorded(it.order, it.source, list);
        for (const e of list) emit({ type: 'result', entry: e });
      },
      onRetry:
        (batchId, what) =>
        ({ attempt, delayMs, error }) =>
          emit({ type: 'retry', batchId, attempt, delayMs, error: what ? `${what}: ${error.message}` : error.message, code: error.code, status: error.status }),
    };
    const downloader =
      opts.downloadDir && plainHttp
        ? new Downloader({ http: plainHttp, dir: resolve(opts.cwd, opts.downloadDir), signal: ctl.signal, retry: ctx.retry })
        : undefined;
    /** --download: save the outputs of one input's entries; what changed is journaled with them. */
    const download = async (order: number) => {
      const list = results.get(order);
      if (!list?.some(Downloader.wants)) return;
      let changed = false;
      const next: ManifestEntry[] = [];
      for (const e of list) {
        if (!Downloader.wants(e)) {
          next.push(e);
          continue;
        }
        const r = await downloader!.save(e);
        if (r.entry !== e) changed = true;
        if (r.error) downloadFailures++;
        if (r.note || r.error || r.entry.download !== e.download)
          emit({ type: 'download', source: e.source, path: r.entry.download?.path, note: r.note, error: r.error });
        next.push(r.entry);
      }
      if (!changed) return;
      const source = inputOf(next[0]!.source);
      await journal!.record([{ source, entries: next, fp: state.fingerprint(source) }], { params });
      results.recorded(order, source, next);
    };
    let fatal: BatchupError | undefined;
    // Serialise manifest writes: each finished batch rewrites it, so a crash keeps what is done.
    // Batches that finish while a write is waiting share it (it is made when it starts, so it holds
    // them all), and a write waits until ten times its own duration has passed since the last one
    // ended, so rewriting a manifest of 100,000 entries after each of 334 batches is not quadratic
    // (a small manifest is still rewritten after every batch; the journal has every batch at once).
    let writing = Promise.resolve();
    let waiting: Promise<void> | undefined;
    let deferred: NodeJS.Timeout | undefined;
    const queueWrite = () =>
      (waiting ??= writing =
        writing.then(() => {
          waiting = undefined;
          return writeManifest();
        }));
    const checkpoint = () => {
      const wait = lastWriteEnd + 10 * lastWriteMs - performance.now();
      if (wait <= 0) return queueWrite();
      deferred ??= setTimeout(() => {
        deferred = undefined;
        void queueWrite();
      }, wait);
      return writing;
    };

    try {
      const providerRun = provider.open(ctx);
      // Skips, rejections and kept entries so far are on disk before the first byte is sent.
      const early = () => results.counts.skipped + results.counts.rejected + keptGone.length > 0;
      let ready: Promise<void> | undefined;
      // Batches run as they are planned; validation stays one batch ahead of the free workers.
      await forEachPool(batches, opts.concurrency, async (batch) => {
        await (ready ??= early() ? writeManifest() : Promise.resolve());
        await runOne(providerRun, batch);
      });
      if (!ctl.signal.aborted) extra = await providerRun.finish?.();
      // Outputs of inputs done earlier (skipped now) that are not on disk yet.
      if (downloader && !ctl.signal.aborted) for (const order of results.orders()) await download(order);
    } catch (raw) {
      fatal ??= toBatchupError(raw);
    } finally {
      signal?.removeEventListener('abort', stop);
      clearTimeout(deadline);
      clearTimeout(deferred);
      await http.close().catch(() => {});
    }

    await writing;
    await writeManifest();
    emit({ type: 'manifest', path: manifestPath });
    const s = summary();
    emit({ type: 'summary', summary: s });
    if (fatal) throw fatal;
    // Complete: a rerun that finds everything as it is now skips it all (rerun-index.ts).
    if (!interrupted && !keptGone.length && !s.rejected && !s.failed) complete = { candidates: gathered.candidates, summary: s };
    return s;

    async function runOne(providerRun: ProviderRun, batch: BatchPlan): Promise<void> {
      if (ctl.signal.aborted) return void recordFailure(batch, notStarted(fatal));
      await journal?.commit({ t: 'batch', batchId: batch.batchId, mode: batch.mode, sources: batch.sources, at: now() });
      emit({
        type: 'batch-start',
        batchId: batch.batchId,
        mode: batch.mode,
        files: batch.files,
        bytes: batch.bytes,
        ...(batch.resumed ? { resumed: true } : {}),
      });
      try {
        const returned = await providerRun.runBatch(batch);
        const result = returned.filter((e) => !settled.has(inputOf(e.source))).map((e) => (e.code === 'INTERRUPTED' ? interruptedEntry(e, batch) : e));
        const byInput = groupBy(result, (e) => inputOf(e.source));
        // Inputs settled mid-batch whose entries the provider added to since (an app run's
        // results on aihub's files) are recorded again, as they are now.
        const later = groupBy(
          returned.filter((e) => settled.has(inputOf(e.source))),
          (e) => inputOf(e.source),
        );
        const inputs: InputResult[] = [];
        const orders: number[] = [];
        for (const it of batch.items) {
          if (settled.has(it.source)) {
            const now = later.get(it.source);
            const was = state.entries(it.source);
            if (now && JSON.stringify(now.map(ordered)) !== JSON.stringify(was)) {
              inputs.push({ source: it.source, entries: now, fp: state.fingerprint(it.source) });
              orders.push(it.order);
            }
            continue;
          }
          const list = byInput.get(it.source) ?? [];
          if (it.kind === 'file') {
            const own = list.filter((e) => e.source === it.source);
            // Hashed while sent (on the item, or only on its entry); a batch found on the server
            // (resumed, lost response) was not streamed: hash it now, so the next run can recognise
            // the file as unchanged.
            it.sha256 ??= own.find((e) => e.sha256)?.sha256 ?? (await sha256File(it.path!));
            for (const e of own) e.sha256 ??= it.sha256;
          }
          inputs.push({ source: it.source, entries: list, fp: fingerprint(it) });
          orders.push(it.order);
        }
        await journal!.record(inputs, { batchId: batch.batchId, params });
        for (const [i, input] of inputs.entries()) results.recorded(orders[i]!, input.source, input.entries);
        for (const e of result) emit({ type: 'result', entry: e });
        if (downloader) for (const it of batch.items) await download(it.order);
        let uploaded = 0;
        let failed = 0;
        for (const it of batch.items) for (const e of results.get(it.order) ?? []) e.status === 'uploaded' ? uploaded++ : failed++;
        emit({ type: 'batch-done', batchId: batch.batchId, uploaded, failed });
      } catch (raw) {
        const err = toBatchupError(raw);
        const whole = fatal ? undefined : wholeRunFailure(err);
        if (whole) {
          fatal = whole;
          emit({ type: 'stopped', error: whole.message, code: whole.code });
          ctl.abort();
        }
        let shown = ctl.signal.aborted && err.code === 'INTERRUPTED' ? notStarted(fatal) : err;
        if (shown.code === 'INTERRUPTED') {
          const what = submitted.has(batch.batchId)
            ? 'interrupted while the server was processing it (it was sent whole)'
            : 'interrupted before it was sent whole';
          shown = new BatchupError('INTERRUPTED', what, { retryable: false });
        }
        emit({ type: 'batch-failed', batchId: batch.batchId, error: shown.message, code: shown.code, files: batch.files });
        const failed = recordFailure(batch, shown);
        // When the server may have the batch (interrupted, network, 5xx, lost in polling) it stays
        // announced, so the next run looks it up under the same id instead of sending it again.
        if (!OUTCOME_UNKNOWN.has(shown.code)) await journal!.record(failed, { batchId: batch.batchId });
      }
      sentSettled(batch);
      // The batch's items are not needed any more (its outcomes are in the journal's state).
      batch.items = [];
      await checkpoint();
    }

    /** What an interrupted input's entry says is what happened to it: how much of it was sent, and whether the server has it all. */
    function interruptedEntry(e: ManifestEntry, batch: BatchPlan): ManifestEntry {
      const s = sent.get(inputOf(e.source));
      const bytesSent = s ? Math.max(0, s.max - s.had) : 0;
      const total = batch.items.find((it) => it.source === inputOf(e.source))?.size;
      const what = submitted.has(batch.batchId)
        ? 'interrupted while the server was processing it (it was sent whole; the next run looks the batch up instead of sending it again)'
        : bytesSent > 0
          ? `interrupted after ${formatBytes(bytesSent)}${total ? ` of ${formatBytes(total)}` : ''} of it was sent (the next run resumes or sends it again)`
          : 'interrupted before it was sent';
      return { ...e, error: `${e.source}: ${what}`, bytesSent };
    }

    /**
     * A failure that is the whole run's, not this batch's: credentials refused; no API calls left
     * on the account (QUOTA: sending more only gets more refusals); the API never reached (nothing
     * answered); or a 404 from an API that never said yes (a wrong endpoint path). Then every batch
     * would fail the same way: stop, and say it once, naming the endpoint.
     */
    function wholeRunFailure(err: BatchupError): BatchupError | undefined {
      if (err.code === 'AUTH' || err.code === 'QUOTA') return err;
      const heard = http.heardFrom(new URL(opts.endpoint).origin);
      if (err.code === 'NETWORK' && heard === 'nothing') {
        return new BatchupError('NETWORK', `cannot reach the API at ${opts.endpoint}: ${err.message.replace(/^network error: /, '')}`, { cause: err });
      }
      if (err.status === 404 && heard !== 'succeeded') {
        return new BatchupError('HTTP', `the API at ${opts.endpoint} does not know this path (HTTP 404): is the endpoint right? (${err.message})`, {
          status: 404,
          retryable: false,
          cause: err,
        });
      }
      return undefined;
    }

    function recordFailure(batch: BatchPlan, err: BatchupError): InputResult[] {
      const finishedAt = new Date(now()).toISOString();
      const out: InputResult[] = [];
      for (const it of batch.items) {
        if (settled.has(it.source)) continue;
        const base = inputEntry(provider.name, it, { batchId: batch.batchId, mode: batch.mode });
        const list: ManifestEntry[] =
          it.format === 'zip' && it.zipEntries?.length
            ? it.zipEntries.map((z) => {
                const source = zipEntrySource(it.source, z.path);
                return failedEntry({ ...base, source, name: undefined, mtimeMs: undefined, size: z.size, format: z.format }, err, finishedAt);
              })
            : [failedEntry(base, err, finishedAt)];
        if (err.code === 'INTERRUPTED') for (const [i, e] of list.entries()) list[i] = interruptedEntry(e, batch);
        results.set(it.order, list);
        out.push({ source: it.source, entries: list });
        for (const e of list) emit({ type: 'result', entry: e });
      }
      return out;
    }
  }
}

const notStarted = (fatal?: BatchupError) => fatal ?? new BatchupError('INTERRUPTED', 'interrupted before the upload finished', { retryable: false });

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
