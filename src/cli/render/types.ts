/** The renderer contract: the upload command feeds events in, a renderer decides what to print. */
import type { BatchupEvent, RunSummary } from '../../core/events.js';

/** The bits of a stream a renderer uses (process.stderr, or a fake in tests). */
export interface OutStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface RenderIO {
  stdout: OutStream;
  stderr: OutStream;
}

export interface RenderOptions {
  quiet: boolean;
  verbose: boolean;
  /** Progress output (bars / periodic progress lines); false with --no-progress or --quiet. */
  progress: boolean;
  color: boolean;
  /** Clock, injectable for tests. */
  now?: () => number;
  /** Start the internal 500 ms stats timer (tests turn it off and call tick()). */
  timer?: boolean;
  /** Milliseconds between plain progress lines (default 5000). */
  progressIntervalMs?: number;
}

export interface Renderer {
  readonly kind: 'tty' | 'plain' | 'json';
  /** Begin (timers); safe to call once. */
  start(): void;
  event(e: BatchupEvent): void;
  /** A human notice that is not an error (sandbox started, …); hidden by --quiet. */
  info(message: string): void;
  /** A notice shown in every mode, as is, on stderr (e.g. "interrupting…"). */
  notice(message: string): void;
  /** A warning (loose permissions, …); always shown on stderr. */
  warn(message: string): void;
  /** A whole-run error (thrown); human line on stderr, plus an `error` event in --json. */
  error(err: { code: string; message: string; hint?: string }, exitCode: number): void;
  /** Stop progress and print the final summary (no-op for json: the summary event is it). */
  finish(summary: RunSummary): void;
  /** Stop timers, bars and spinners without a summary. Idempotent; safe in a signal handler. */
  close(): void;
}
