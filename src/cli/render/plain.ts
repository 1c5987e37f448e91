/**
 * Plain renderer — for CI, cron, pipes and --quiet: no cursor tricks, no `\r`, one line per
 * file outcome on stderr, and a progress line at most every 5 s pulled from the stats object
 * (rclone style: a 500 ms timer checks the clock; the line is printed only when the interval has
 * passed and the numbers changed, or 30 s went by without a line).
 */
import type { BatchupEvent, RunSummary } from '../../core/events.js';
import { redact } from '../redact.js';
import { formatBytes, formatDuration, formatSummary, makePaint, type Paint } from './format.js';
import { Stats } from './stats.js';
import type { RenderIO, RenderOptions, Renderer } from './types.js';

export const PROGRESS_INTERVAL_MS = 5_000;
export const TIMER_MS = 500;
/** Even if nothing changed, say we are alive this often. */
export const HEARTBEAT_MS = 30_000;

/** `brief`: a summary shown in place of what `--verbose` lists in full. */
export type LineLevel = 'error' | 'normal' | 'verbose' | 'brief';
/** Markers kept in `seen`: the run stopped; a batch failed as a whole. */
const STOPPED = '\0stopped';
const FAILED_BATCH = '\0batch-failed:';
/** Batches a dry run lists before summing up the rest. */
const PLAN_LINES = 10;
export interface EventLine {
  level: LineLevel;
  text: string;
}

/**
 * What one event says in words (shared by the plain and TTY renderers). `seen` tracks sources
 * already reported, so a `reject` event and a later `result` with status rejected print once.
 */
export function describeEvent(e: BatchupEvent, paint: Paint, seen: Set<string>): EventLine[] {
  switch (e.type) {
    case 'scan':
      return [{ level: 'verbose', text: `scan: ${e.candidates} ${e.candidates === 1 ? 'candidate' : 'candidates'}` }];
    case 'reject':
      seen.add(`rejected\0${e.rejection.source}`);
      return [{ level: 'error', text: `${paint('red', 'rejected')} ${e.rejection.source}: ${unprefixed(e.rejection.message, e.rejection.source)}` }];
    case 'skip':
      seen.add(`skipped\0${e.source}`);
      return [{ level: 'verbose', text: `${paint('dim', 'skipped')} ${e.source}: ${e.reason}` }];
    case 'gone':
      return [
        {
          level: 'normal',
          text: `${paint('yellow', 'gone')} ${e.source}: no longer among the inputs; ${e.pruned ? 'dropped from the manifest (--prune)' : 'kept in the manifest (--prune drops it)'}`,
        },
      ];
    case 'plan': {
      // The last plan of a run planned as it validated may add nothing: the summary says what was sent.
      if (!e.dryRun && !e.batches.length) return [];
      const files = e.batches.reduce((n, b) => n + b.files, 0);
      const bytes = e.batches.reduce((n, b) => n + b.bytes, 0);
      const modes = new Map<string, number>();
      for (const b of e.batches) modes.set(b.mode, (modes.get(b.mode) ?? 0) + 1);
      const modeText = [...modes].map(([m, n]) => `${m} ${n}`).join(', ');
      const head =
        `plan: ${e.batches.length} ${e.batches.length === 1 ? 'batch' : 'batches'}` +
        (modeText ? ` (${modeText})` : '') +
        `, ${files} ${files === 1 ? 'file' : 'files'}, ${formatBytes(bytes)}, provider ${e.provider}` +
        (e.dryRun ? ' (dry run)' : '') +
        (e.more ? `; ${e.more.files} more ${e.more.files === 1 ? 'input' : 'inputs'} being validated` : '');
      const lines: EventLine[] = [{ level: e.dryRun ? 'normal' : 'verbose', text: head }];
      // A dry run lists its first batches; a plan of hundreds is summed up (--verbose and --json give every one).
      for (const [i, b] of e.batches.entries()) {
        lines.push({
          level: e.dryRun && i < PLAN_LINES ? 'normal' : 'verbose',
          text:
            `  batch ${b.batchId}: ${b.mode}, ${b.files} ${b.files === 1 ? 'file' : 'files'}` +
            (b.images !== b.files ? ` (${b.images} images)` : '') +
            `, ${formatBytes(b.bytes)} — ${b.reason}`,
        });
      }
      const rest = e.batches.slice(PLAN_LINES);
      if (e.dryRun && rest.length > 0) {
        const files = rest.reduce((n, b) => n + b.files, 0);
        const bytes = rest.reduce((n, b) => n + b.bytes, 0);
        lines.push({
          level: 'brief',
          text: `  … ${rest.length} more ${rest.length === 1 ? 'batch' : 'batches'}, ${files} ${files === 1 ? 'file' : 'files'}, ${formatBytes(bytes)} (--verbose lists every batch)`,
        });
      }
      return lines;
    }
    case 'batch-start':
      return [
        {
          level: 'verbose',
          text: e.resumed
            ? `batch ${e.batchId}: resuming ${e.files} ${e.files === 1 ? 'file' : 'files'} (${e.mode}): asking the server what it already has`
            : e.bytes > 0
              ? `batch ${e.batchId}: uploading ${e.files} ${e.files === 1 ? 'file' : 'files'} (${formatBytes(e.bytes)}, ${e.mode})`
              : // URLs, render specs: the server fetches or makes what it needs; no file content leaves here.
                `batch ${e.batchId}: submitting ${e.files} ${e.files === 1 ? 'input' : 'inputs'} (${e.mode}, no file content to upload)`,
        },
      ];
    case 'file-progress':
      return [];
    case 'batch-submitted':
      return [{ level: 'verbose', text: `batch ${e.batchId}: submitted (${e.mode}, attempt ${e.attempt})` }];
    case 'retry':
      return [
        {
          level: 'verbose',
          text: `${paint('yellow', 'retry')} batch ${e.batchId} attempt ${e.attempt} in ${formatDuration(e.delayMs)}: ${e.error} (${e.code})`,
        },
      ];
    case 'poll':
      return [];
    case 'render-progress': {
      // A line per state change (progress within a state is for the bars).
      const key = `render\0${e.renderId}\0${e.status}`;
      if (seen.has(key)) return [];
      seen.add(key);
      const status = e.status === 'FAILED' ? paint('red', e.status) : /^COMPLETE/.test(e.status) ? paint('green', e.status) : e.status;
      return [{ level: 'normal', text: `render ${e.source} (${e.renderId}): ${status} ${e.progress}%${e.message ? ` — ${e.message}` : ''}` }];
    }
    case 'result': {
      const en = e.entry;
      const key = `${en.status}\0${en.source}`;
      if (seen.has(key)) return [];
      seen.add(key);
      switch (en.status) {
        case 'failed':
          return [
            {
              // Files a Ctrl-C stopped, or whose whole batch (or run) failed and was said once,
              // are counted in the summary; one line each would bury it.
              level: en.code === 'INTERRUPTED' || seen.has(STOPPED) || seen.has(`${FAILED_BATCH}${en.batchId}`) ? 'verbose' : 'error',
              text: `${paint('red', 'failed')} ${en.source}: ${unprefixed(en.error ?? 'failed', en.source)}${en.code ? ` (${en.code})` : ''}`,
            },
          ];
        case 'rejected':
          return [{ level: 'error', text: `${paint('red', 'rejected')} ${en.source}: ${unprefixed(en.error ?? en.rule ?? 'rejected', en.source)}` }];
        case 'uploaded':
          return [{ level: 'verbose', text: `${paint('green', 'uploaded')} ${en.source}${en.url ? ` -> ${en.url}` : ''}` }];
        case 'skipped':
          return [{ level: 'verbose', text: `${paint('dim', 'skipped')} ${en.source}${en.error ? `: ${en.error}` : ''}` }];
      }
      return [];
    }
    case 'batch-done':
      return [{ level: 'verbose', text: `batch ${e.batchId}: done, ${e.uploaded} uploaded, ${e.failed} failed` }];
    case 'stopped':
      // Said once at the end as the run's error; what fails after it is its consequence.
      seen.add(STOPPED);
      return [];
    case 'batch-failed': {
      seen.add(`${FAILED_BATCH}${e.batchId}`);
      if (seen.has(STOPPED)) return [];
      const what = e.files ? ` (${e.files} file${e.files === 1 ? '' : 's'})` : '';
      return [{ level: 'error', text: `${paint('red', 'batch failed')} ${e.batchId}${what}: ${e.error} (${e.code})` }];
    }
    case 'download':
      if (e.error) return [{ level: 'error', text: `${paint('red', 'download failed')} ${e.error}` }];
      if (e.note) return [{ level: 'normal', text: `${e.source}: ${e.note}` }];
      return [{ level: 'verbose', text: `${paint('green', 'downloaded')} ${e.source} -> ${e.path}` }];
    case 'manifest':
      return [{ level: 'verbose', text: `manifest written: ${e.path}` }];
    case 'summary':
      return [];
  }
  return [];
}

/** Core's messages often start with the full source already: don't print it twice. */
/** Core's messages name the input (its path or its file name) first: the line already shows the source. */
function unprefixed(message: string, source: string): string {
  for (const name of [source, source.slice(source.lastIndexOf('/') + 1)]) {
    if (name && message.startsWith(`${name}: `)) return message.slice(name.length + 2);
  }
  return message;
}

/**
 * Per-file events that say nothing unless --verbose (a successful or skipped input, bytes moving,
 * a status poll): a renderer only counts them — a rerun over 100,000 unchanged files has 200,000.
 */
export function quietUnlessVerbose(e: BatchupEvent): boolean {
  switch (e.type) {
    case 'skip':
    case 'file-progress':
    case 'poll':
      return true;
    case 'result':
      return e.entry.status === 'uploaded' || e.entry.status === 'skipped';
    default:
      return false;
  }
}

export function shouldPrint(level: LineLevel, opts: Pick<RenderOptions, 'quiet' | 'verbose'>): boolean {
  if (level === 'error') return true;
  if (opts.quiet) return false;
  if (level === 'verbose') return opts.verbose;
  if (level === 'brief') return !opts.verbose;
  return true;
}

/** `progress: 120/650 files, 12.3 MB/45.6 MB, 3 batches in flight[, server processed 30/50]` */
export function progressLine(stats: Stats): string {
  let line =
    `progress: ${stats.filesDone}/${stats.filesTotal} files, ` +
    // A run with no file content to send (URLs, render specs) shows no byte counts.
    (stats.bytesTotal > 0 ? `${formatBytes(stats.bytesSent)}/${formatBytes(stats.bytesTotal)}, ` : '') +
    `${stats.batchesInFlight} ${stats.batchesInFlight === 1 ? 'batch' : 'batches'} in flight`;
  const polling = stats.pollingBatches;
  if (polling.length > 0) {
    const processed = polling.reduce((n, b) => n + b.processed, 0);
    const total = polling.reduce((n, b) => n + b.total, 0);
    line += `, server processed ${processed}/${total}`;
  }
  if (stats.renders.size) line += `, renders ${stats.renders.size - stats.rendersActive}/${stats.renders.size} finished`;
  return line;
}

export class PlainRenderer implements Renderer {
  readonly kind = 'plain' as const;
  readonly stats = new Stats();
  readonly #io: RenderIO;
  readonly #opts: RenderOptions;
  readonly #paint: Paint;
  readonly #now: () => number;
  readonly #interval: number;
  readonly #seen = new Set<string>();
  #timer?: NodeJS.Timeout;
  #lastProgressAt: number;
  #lastProgressLine = '';
  #finished = false;

  constructor(io: RenderIO, opts: RenderOptions) {
    this.#io = io;
    this.#opts = opts;
    this.#paint = makePaint(opts.color);
    this.#now = opts.now ?? Date.now;
    this.#interval = opts.progressIntervalMs ?? PROGRESS_INTERVAL_MS;
    this.#lastProgressAt = this.#now();
  }

  start(): void {
    if (this.#timer || this.#opts.timer === false || !this.#opts.progress) return;
    this.#timer = setInterval(() => this.tick(), TIMER_MS);
    this.#timer.unref?.();
  }

  #line(text: string): void {
    this.#io.stderr.write(`${redact(text)}\n`);
  }

  event(e: BatchupEvent): void {
    this.stats.update(e);
    if (!this.#opts.verbose && quietUnlessVerbose(e)) return;
    for (const line of describeEvent(e, this.#paint, this.#seen)) {
      if (shouldPrint(line.level, this.#opts)) this.#line(line.text);
    }
  }

  /** Called by the timer (or a test): print a progress line if the interval has passed. */
  tick(): boolean {
    if (!this.#opts.progress || this.#finished) return false;
    if (!this.stats.planned || this.stats.dryRun) return false;
    const now = this.#now();
    const since = now - this.#lastProgressAt;
    if (since < this.#interval) return false;
    const line = progressLine(this.stats);
    if (line === this.#lastProgressLine && since < HEARTBEAT_MS) return false;
    this.#lastProgressAt = now;
    this.#lastProgressLine = line;
    this.#line(line);
    return true;
  }

  info(message: string): void {
    if (!this.#opts.quiet) this.#line(message);
  }

  notice(message: string): void {
    this.#line(message);
  }

  warn(message: string): void {
    this.#line(`${this.#paint('yellow', 'warning:')} ${message}`);
  }

  error(err: { code: string; message: string; hint?: string }, _exitCode: number): void {
    this.#line(`${this.#paint('red', 'error:')} ${err.message}${err.hint ? `\n  ${err.hint}` : ''}`);
  }

  finish(summary: RunSummary): void {
    this.close();
    this.#line(
      formatSummary(summary, {
        plannedFiles: this.stats.plannedFiles,
        plannedBatches: this.stats.plannedBatches,
        plannedBytes: this.stats.plannedBytes,
        plannedImages: this.stats.plannedImages,
      }),
    );
  }

  close(): void {
    this.#finished = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
