/**
 * TTY renderer (stderr is a terminal, no --json/--quiet/--no-progress): a live block at the bottom
 * of the terminal, drawn by a cli-progress MultiBar whose lines come from `frameLines` (frame.ts) —
 * the overall line first (files, bytes, processed, batches in flight, labelled upload and server
 * ETAs), then as many file, batch and render lines as the terminal has rows for. Every line fits
 * the terminal's width, re-read at each frame (a resized terminal is followed).
 * Rejections, failures (and with --verbose, successes and retries) print above the block
 * (MultiBar.log); the block is stopped and cleared before the summary, so nothing is left behind.
 * Every line is computed from the stats object on each redraw (pulled, not pushed).
 */
import cliProgress from 'cli-progress';
import type { BatchupEvent, RunSummary } from '../../core/events.js';
import { redact } from '../redact.js';
import { formatBytes, formatDuration, formatSummary, makePaint, type Paint } from './format.js';
import { Rates, frameLines, wrapLine } from './frame.js';
import { describeEvent, quietUnlessVerbose, shouldPrint } from './plain.js';
import { FINAL_RENDER, Stats } from './stats.js';
import type { RenderIO, RenderOptions, Renderer } from './types.js';

type FormatFn = (options: cliProgress.Options, params: cliProgress.Params, payload: Record<string, unknown>) => string;

/** How often the block is redrawn (and its line count matched to the frame). */
const FPS = 10;

export class TtyRenderer implements Renderer {
  readonly kind = 'tty' as const;
  readonly stats = new Stats();
  readonly #io: RenderIO;
  readonly #opts: RenderOptions;
  readonly #paint: Paint;
  readonly #seen = new Set<string>();
  readonly #rates = new Rates();
  #multibar?: cliProgress.MultiBar;
  /** One cli-progress bar per line of the block; each shows the line of the frame at its position. */
  readonly #slots: cliProgress.SingleBar[] = [];
  #frame: string[] = [];
  #tick = 0;
  #timer?: NodeJS.Timeout;
  #closed = false;
  #wasBusy = false;
  #syncedAt = Number.NEGATIVE_INFINITY;

  constructor(io: RenderIO, opts: RenderOptions) {
    this.#io = io;
    this.#opts = opts;
    this.#paint = makePaint(opts.color);
  }

  start(): void {}

  /** The terminal's size now (the last column is left free: a full line would wrap on some terminals). */
  get #size(): { width: number; rows: number } {
    return { width: Math.max(20, (this.#io.stderr.columns || 80) - 1), rows: (this.#io.stderr as { rows?: number }).rows || 24 };
  }

  /** A line above the block, broken to the terminal's width. */
  #log(text: string): void {
    const line = `${wrapLine(redact(text), this.#size.width).join('\n')}\n`;
    if (this.#multibar) this.#multibar.log(line);
    else this.#io.stderr.write(line);
  }

  event(e: BatchupEvent): void {
    if (this.#closed) return;
    this.stats.update(e);
    if (this.#opts.verbose || !quietUnlessVerbose(e)) {
      for (const line of describeEvent(e, this.#paint, this.#seen)) {
        // A render's states are its line in the block; how it ended is also a line above it, which
        // stays (the block drops a batch's renders once the batch is done).
        if (e.type === 'render-progress' && !FINAL_RENDER.has(e.status) && this.#opts.progress) continue;
        if (shouldPrint(line.level, this.#opts)) this.#log(line.text);
      }
    }
    if (!this.#opts.progress) return;
    // The frame follows the events, at most once a frame (the timer draws in between): one
    // computed per event was a pass over every batch for each of 100,000 files.
    const busy = this.#busy();
    const at = performance.now();
    if (busy === this.#wasBusy && at - this.#syncedAt < 1000 / FPS) return;
    this.#wasBusy = busy;
    this.#syncedAt = at;
    if (busy) this.#show();
    else this.#syncSlots();
  }

  /** Anything in flight the block should show. */
  #busy(): boolean {
    return this.stats.batchesInFlight > 0 || this.stats.rendersActive > 0;
  }

  #show(): void {
    if (!this.#multibar) {
      this.#multibar = new cliProgress.MultiBar({
        stream: this.#io.stderr as NodeJS.WritableStream,
        clearOnComplete: true,
        hideCursor: true,
        gracefulExit: false,
        linewrap: false,
        autopadding: false,
        fps: FPS,
        format: this.#line,
      });
      // Between events the frame still moves (rates, the spinner, a resized terminal).
      this.#timer = setInterval(() => this.#syncSlots(), 1000 / FPS);
      this.#timer.unref?.();
    }
    this.#syncSlots();
  }

  /** As many slots as the frame has lines: computed now, drawn by cli-progress on its next frame. */
  #syncSlots(): void {
    const mb = this.#multibar;
    if (!mb) return;
    this.#frame = this.#busy() ? frameLines(this.stats, this.#size, Date.now(), this.#rates, this.#tick++).map((l) => redact(l)) : [];
    while (this.#slots.length < this.#frame.length) {
      this.#slots.push(mb.create(1, 0, { index: this.#slots.length }, { format: this.#line }));
    }
    while (this.#slots.length > this.#frame.length) mb.remove(this.#slots.pop()!);
  }

  readonly #line: FormatFn = (_o, _params, payload) => {
    const text = this.#frame[Number(payload.index ?? 0)] ?? '';
    return text.length > this.#size.width ? text.slice(0, this.#size.width) : text;
  };

  #stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    const mb = this.#multibar;
    if (!mb) return;
    this.#multibar = undefined;
    this.#slots.length = 0;
    try {
      mb.update(); // flush lines logged since the last redraw (stop() does not)
      mb.stop();
    } catch {
      /* the stream may be gone */
    }
  }

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
    this.#io.stderr.write(
      `${wrapLine(redact(`${this.#paint('red', 'error:')} ${err.message}${err.hint ? `\n  ${err.hint}` : ''}`), this.#size.width).join('\n')}\n`,
    );
  }

  finish(summary: RunSummary): void {
    this.close();
    const line = formatSummary(summary, {
      plannedFiles: this.stats.plannedFiles,
      plannedBatches: this.stats.plannedBatches,
      plannedBytes: this.stats.plannedBytes,
      plannedImages: this.stats.plannedImages,
    });
    const bad = summary.failed + summary.rejected > 0 || summary.interrupted;
    const text = wrapLine(redact(line), this.#size.width).join('\n');
    this.#io.stderr.write(`${this.#paint(bad ? 'yellow' : 'green', text)}\n`);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#stop();
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
