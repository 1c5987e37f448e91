/**
 * TTY renderer (stderr is a terminal, no --json/--quiet/--no-progress):
 * - while any batch is uploading: a cli-progress MultiBar — a total bar (all bytes, files done,
 *   batches in flight) and one bar per file in flight (at most MAX_FILE_BARS), each removed when
 *   its file is sent; batches the server is processing meanwhile get a one-line status bar;
 * - once nothing is uploading but batches are still being processed: an ora spinner with
 *   `batch <id>: processed/total`;
 * - rejections, failures (and with --verbose, successes and retries) print as lines above the
 *   bars (MultiBar.log) or above the spinner;
 * - bars and spinner are stopped and cleared before the summary line, so nothing is left behind.
 * Every bar line is computed from the stats object on each redraw (pulled, not pushed).
 */
import cliProgress from 'cli-progress';
import ora, { type Ora } from 'ora';
import type { BatchupEvent, RunSummary } from '../../core/events.js';
import { redact } from '../redact.js';
import { bar, displayName, formatBytes, formatDuration, formatSummary, makePaint, percent, truncateMiddle, type Paint } from './format.js';
import { describeEvent, shouldPrint } from './plain.js';
import { Stats, type BatchStats } from './stats.js';
import type { RenderIO, RenderOptions, Renderer } from './types.js';

export const MAX_FILE_BARS = 6;
/** Render bars at once (the oldest finished one makes room). */
const MAX_RENDER_BARS = 16;
const NAME_WIDTH = 28;

type Bar = cliProgress.SingleBar;
type FormatFn = (options: cliProgress.Options, params: cliProgress.Params, payload: Record<string, unknown>) => string;

export class TtyRenderer implements Renderer {
  readonly kind = 'tty' as const;
  readonly stats = new Stats();
  readonly #io: RenderIO;
  readonly #opts: RenderOptions;
  readonly #paint: Paint;
  readonly #seen = new Set<string>();
  #multibar?: cliProgress.MultiBar;
  #fileBars = new Map<string, Bar>();
  #pollBars = new Map<string, Bar>();
  /** One bar per render (key: batch id, render id), kept until its batch ends. */
  #renderBars = new Map<string, Bar>();
  #spinner?: Ora;
  #closed = false;

  constructor(io: RenderIO, opts: RenderOptions) {
    this.#io = io;
    this.#opts = opts;
    this.#paint = makePaint(opts.color);
  }

  start(): void {}

  get #width(): number {
    return Math.max(20, (this.#io.stderr.columns || 80) - 1);
  }

  #fit(line: string): string {
    return truncateMiddle(redact(line), this.#width);
  }

  /** A line above the bars / spinner. */
  #log(text: string): void {
    const line = `${redact(text)}\n`;
    if (this.#multibar) {
      this.#multibar.log(line);
    } else if (this.#spinner) {
      this.#spinner.clear();
      this.#io.stderr.write(line);
      this.#spinner.render();
    } else {
      this.#io.stderr.write(line);
    }
  }

  event(e: BatchupEvent): void {
    if (this.#closed) return;
    this.stats.update(e);
    for (const line of describeEvent(e, this.#paint, this.#seen)) {
      // A render's states are its bar; only a failure also gets a line.
      if (e.type === 'render-progress' && e.status !== 'FAILED' && this.#opts.progress) continue;
      if (shouldPrint(line.level, this.#opts)) this.#log(line.text);
    }
    if (!this.#opts.progress) return;
    switch (e.type) {
      case 'render-progress':
        this.#refreshPhase();
        this.#renderProgress(e);
        break;
      case 'file-progress':
        this.#refreshPhase();
        this.#fileProgress(e.batchId, e.source, e.sent, e.total);
        break;
      case 'batch-submitted':
      case 'batch-done':
      case 'batch-failed':
        this.#dropBatch(e.batchId, e.type !== 'batch-submitted');
        this.#refreshPhase();
        break;
      case 'batch-start':
      case 'poll':
      case 'retry':
        this.#refreshPhase();
        break;
      default:
        break;
    }
    this.#updateSpinnerText();
  }

  /** Bars while anything uploads; spinner while only server-side work remains. */
  #refreshPhase(): void {
    const uploading = this.stats.uploadingBatches.length > 0;
    const waiting = this.stats.batchesInFlight > 0;
    if (this.stats.rendersActive > 0 || this.#renderBars.size > 0) {
      this.#ensureBars();
    } else if (uploading) {
      this.#ensureBars();
      this.#syncPollBars();
    } else if (waiting) {
      this.#ensureSpinner();
    } else {
      // Nothing in flight (between batches, or writing the manifest): keep the bars — the next
      // batch reuses them — but a spinner would claim we are waiting for the server.
      this.#stopSpinner();
    }
  }

  #ensureBars(): void {
    if (this.#multibar) return;
    this.#stopSpinner();
    this.#multibar = new cliProgress.MultiBar({
      stream: this.#io.stderr as NodeJS.WritableStream,
      clearOnComplete: true,
      hideCursor: true,
      gracefulExit: false,
      linewrap: false,
      autopadding: true,
      fps: 10,
      format: this.#totalFormat,
    });
    this.#multibar.create(1, 0, {}, { format: this.#totalFormat });
  }

  #stopBars(): void {
    if (!this.#multibar) return;
    const mb = this.#multibar;
    this.#multibar = undefined;
    this.#fileBars.clear();
    this.#pollBars.clear();
    this.#renderBars.clear();
    try {
      mb.update(); // flush lines logged since the last redraw (stop() does not)
      mb.stop();
    } catch {
      /* the stream may be gone */
    }
  }

  #ensureSpinner(): void {
    if (this.#spinner) return;
    this.#stopBars();
    this.#spinner = ora({
      stream: this.#io.stderr as NodeJS.WritableStream,
      text: this.#spinnerText(),
      color: this.#opts.color ? 'cyan' : false,
      discardStdin: false,
      hideCursor: true,
      // The renderer was chosen because stderr is a terminal; ora would otherwise turn itself off
      // whenever CI is set (a CI job with a pseudo-terminal) and print one static line instead.
      isEnabled: true,
    }).start();
  }

  #stopSpinner(): void {
    if (!this.#spinner) return;
    const s = this.#spinner;
    this.#spinner = undefined;
    try {
      s.stop();
    } catch {
      /* ignore */
    }
  }

  #spinnerText(): string {
    const polling = this.stats.pollingBatches;
    const parts = polling.map((b) => `batch ${b.batchId}: ${b.processed}/${b.total} processed`);
    const waiting = this.stats.batchesInFlight - polling.length;
    if (waiting > 0) parts.push(`${waiting} ${waiting === 1 ? 'batch' : 'batches'} waiting for the server`);
    const head = parts.length ? parts.join(', ') : 'waiting for the server';
    return this.#fit(`${head} — ${this.stats.filesDone}/${this.stats.filesTotal} files done`).slice(0, this.#width - 2);
  }

  /** Redrawn at once when the text changes: the spinner's own timer only animates the frame. */
  #updateSpinnerText(): void {
    const s = this.#spinner;
    if (!s) return;
    const text = this.#spinnerText();
    if (text === s.text) return;
    s.text = text;
    s.render();
  }

  #fileProgress(batchId: string, source: string, sent: number, total: number): void {
    const mb = this.#multibar;
    if (!mb) return;
    const key = `${batchId}\0${source}`;
    const existing = this.#fileBars.get(key);
    if (total > 0 && sent >= total) {
      if (existing) {
        mb.remove(existing);
        this.#fileBars.delete(key);
      }
      return;
    }
    if (existing) {
      existing.setTotal(Math.max(1, total));
      existing.update(sent);
    } else if (this.#fileBars.size < MAX_FILE_BARS) {
      const name = displayName(source);
      const b = mb.create(Math.max(1, total), sent, { name, t0: Date.now(), v0: sent }, { format: this.#fileFormat });
      this.#fileBars.set(key, b);
    }
  }

  #dropBatch(batchId: string, withPoll: boolean): void {
    const mb = this.#multibar;
    for (const [key, b] of [...this.#fileBars]) {
      if (key.startsWith(`${batchId}\0`)) {
        mb?.remove(b);
        this.#fileBars.delete(key);
      }
    }
    for (const [key, b] of [...this.#renderBars]) {
      if (withPoll && key.startsWith(`${batchId}\0`)) {
        mb?.remove(b);
        this.#renderBars.delete(key);
      }
    }
    if (withPoll) {
      const pb = this.#pollBars.get(batchId);
      if (pb) {
        mb?.remove(pb);
        this.#pollBars.delete(batchId);
      }
    }
  }

  /** A render's bar: the server's progress (0–100) and its words. */
  #renderProgress(e: Extract<BatchupEvent, { type: 'render-progress' }>): void {
    const mb = this.#multibar;
    if (!mb) return;
    const key = `${e.batchId}\0${e.renderId}`;
    const payload = { label: e.source.slice(e.source.lastIndexOf('#') + 1).replace('!/', ' #'), status: e.status, message: e.message ?? '' };
    const bar = this.#renderBars.get(key);
    if (bar) return bar.update(e.progress, payload);
    if (this.#renderBars.size >= MAX_RENDER_BARS) {
      const done = [...this.#renderBars].find(([k]) => /^COMPLETE|^FAILED/.test(this.stats.renders.get(k.split('\0')[1]!)?.status ?? ''));
      if (!done) return;
      mb.remove(done[1]);
      this.#renderBars.delete(done[0]);
    }
    this.#renderBars.set(key, mb.create(100, e.progress, payload, { format: this.#renderFormat }));
  }

  readonly #renderFormat: FormatFn = (_o, params, payload) => {
    const label = truncateMiddle(String(payload.label ?? ''), NAME_WIDTH).padEnd(NAME_WIDTH);
    const pct = `${Math.round(params.value)}%`.padStart(4);
    return this.#fit(`  ${label} ${bar(params.value / 100, 20)} ${pct} ${payload.status}${payload.message ? ` — ${payload.message}` : ''}`);
  };

  /** One status line per batch the server is processing while others still upload. */
  #syncPollBars(): void {
    const mb = this.#multibar;
    if (!mb) return;
    for (const b of this.stats.pollingBatches) {
      if (!this.#pollBars.has(b.batchId)) {
        this.#pollBars.set(b.batchId, mb.create(1, 0, { batch: b }, { format: this.#pollFormat }));
      }
    }
  }

  /** When the total bar first saw bytes move, and how many were sent then (the rate's origin). */
  #rateOrigin?: { t0: number; v0: number };

  readonly #totalFormat: FormatFn = () => {
    // The stats getters walk every batch and file: read each once per frame.
    const { bytesSent: sent, bytesTotal: total, filesDone: done, filesTotal: files, batchesInFlight, retries } = this.stats;
    const frac = total > 0 ? sent / total : files > 0 ? done / files : 0;
    if (!this.#rateOrigin && sent > 0) this.#rateOrigin = { t0: Date.now(), v0: sent };
    const o = this.#rateOrigin;
    const line =
      `total ${bar(frac, 24)} ${percent(frac * 100, 100).padStart(4)} ` +
      `${formatBytes(sent)}/${formatBytes(total)}${o ? rateEta(sent - o.v0, Date.now() - o.t0, total - sent) : ''} | ` +
      `${done}/${files} files | ${batchesInFlight} in flight` +
      (retries ? ` | ${retries} ${retries === 1 ? 'retry' : 'retries'}` : '');
    return this.#fit(line);
  };

  readonly #fileFormat: FormatFn = (_o, params, payload) => {
    const name = truncateMiddle(String(payload.name ?? ''), NAME_WIDTH).padEnd(NAME_WIDTH);
    const frac = params.total > 0 ? params.value / params.total : 0;
    const since = Date.now() - Number(payload.t0 ?? Date.now());
    const rate = rateEta(params.value - Number(payload.v0 ?? 0), since, params.total - params.value);
    return this.#fit(`  ${name} ${bar(frac, 16)} ${formatBytes(params.value)}/${formatBytes(params.total)}${rate}`);
  };

  readonly #pollFormat: FormatFn = (_o, _params, payload) => {
    const b = payload.batch as BatchStats;
    return this.#fit(`  batch ${b.batchId}: ${b.processed}/${b.total} processed${b.pollStatus ? ` (${b.pollStatus})` : ''}`);
  };

  info(message: string): void {
    if (!this.#opts.quiet) this.#log(message);
  }

  notice(message: string): void {
    this.#log(message);
  }

  warn(message: string): void {
    this.#log(`${this.#paint('yellow', 'warning:')} ${message}`);
  }

  error(err: { code: string; message: string; hint?: string }, _exitCode: number): void {
    this.close();
    this.#io.stderr.write(`${redact(`${this.#paint('red', 'error:')} ${err.message}${err.hint ? `\n  ${err.hint}` : ''}`)}\n`);
  }

  finish(summary: RunSummary): void {
    this.close();
    const line = formatSummary(summary, {
      plannedFiles: this.stats.plannedFiles,
      plannedBatches: this.stats.plannedBatches.length,
      plannedBytes: this.stats.plannedBytes,
      plannedImages: this.stats.plannedImages,
    });
    const bad = summary.failed + summary.rejected > 0 || summary.interrupted;
    this.#io.stderr.write(`${redact(this.#paint(bad ? 'yellow' : 'green', line))}\n`);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopBars();
    this.#stopSpinner();
  }
}

/**
 * ` 42.1 MB/s ETA 12.0 s` from bytes moved in `ms` and bytes left; '' until there is a second of
 * history (a rate from a few milliseconds of a resumed file says nothing).
 */
export function rateEta(bytes: number, ms: number, left: number): string {
  if (!(ms >= 1000) || !(bytes > 0)) return '';
  const perSec = (bytes * 1000) / ms;
  const eta = left > 0 ? ` ETA ${formatDuration((left / perSec) * 1000)}` : '';
  return ` ${formatBytes(perSec)}/s${eta}`;
}
