/**
 * --json renderer: every core event, as is, one JSON object per line on stdout (NDJSON).
 * Nothing else is ever written to stdout. A whole-run failure adds one more object,
 * `{"type":"error","code":"AUTH","message":"…","exitCode":5}`, before the process exits. Human
 * warnings and errors still go to stderr — including one line per rejected/failed file, which
 * always reaches stderr whatever the output mode.
 */
import type { BatchupEvent, RunSummary } from '../../core/events.js';
import { redact } from '../redact.js';
import { makePaint } from './format.js';
import { describeEvent, quietUnlessVerbose } from './plain.js';
import type { RenderIO, RenderOptions, Renderer } from './types.js';

/** The extra event type the CLI adds to core's stream. */
export interface ErrorEvent {
  type: 'error';
  code: string;
  message: string;
  exitCode: number;
}

export function toNdjsonLine(event: BatchupEvent | ErrorEvent): string {
  return `${redact(JSON.stringify(event))}\n`;
}

/** Lines held back at most this long (in characters) before they are written. */
const HOLD_CHARS = 64 * 1024;

export class JsonRenderer implements Renderer {
  readonly kind = 'json' as const;
  readonly #io: RenderIO;
  readonly #opts: RenderOptions;
  readonly #seen = new Set<string>();
  readonly #paint = makePaint(false);
  /**
   * Lines not yet written: a run emits two events a file, and one write (a system call on a
   * pipe or file) each cost an upload of 1,000 small files ~35 ms. They go out together once
   * the current turn of the event loop is done, or at 64 KiB, and before anything else.
   */
  #held = '';
  #flushing?: NodeJS.Immediate;

  constructor(io: RenderIO, opts: RenderOptions) {
    this.#io = io;
    this.#opts = opts;
  }

  start(): void {}

  #write(line: string): void {
    this.#held += line;
    if (this.#held.length >= HOLD_CHARS) this.#flush();
    else this.#flushing ??= setImmediate(() => this.#flush());
  }

  #flush(): void {
    if (this.#flushing) clearImmediate(this.#flushing);
    this.#flushing = undefined;
    if (!this.#held) return;
    const text = this.#held;
    this.#held = '';
    this.#io.stdout.write(text);
  }

  event(e: BatchupEvent): void {
    this.#write(toNdjsonLine(e));
    if (quietUnlessVerbose(e)) return; // never an error line
    for (const line of describeEvent(e, this.#paint, this.#seen)) {
      if (line.level === 'error') this.#io.stderr.write(`${redact(line.text)}\n`);
    }
  }

  info(message: string): void {
    if (this.#opts.verbose) this.#io.stderr.write(`${redact(message)}\n`);
  }

  notice(message: string): void {
    this.#io.stderr.write(`${redact(message)}\n`);
  }

  warn(message: string): void {
    this.#io.stderr.write(`${redact(`warning: ${message}`)}\n`);
  }

  error(err: { code: string; message: string; hint?: string }, exitCode: number): void {
    this.#flush();
    this.#io.stdout.write(toNdjsonLine({ type: 'error', code: err.code, message: err.message, exitCode }));
    this.#io.stderr.write(`${redact(`error: ${err.message}${err.hint ? `\n  ${err.hint}` : ''}`)}\n`);
  }

  finish(_summary: RunSummary): void {
    this.#flush();
  }

  close(): void {
    this.#flush();
  }
}
