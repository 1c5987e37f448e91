/**
 * Small pure formatters shared by every human renderer: bytes, durations, names, colour.
 * Units are decimal (1 MB = 1,000,000 bytes), as in the examples ("12.3 MB").
 */
import type { RunSummary } from '../../core/events.js';
import { formatBytes, formatDuration } from '../../core/text.js';

export { formatBytes, formatDuration };

/** Shorten a name to `width` characters, keeping both ends: `very-lo…name.jpg`. */
export function truncateMiddle(text: string, width: number): string {
  if (width <= 0) return '';
  if (text.length <= width) return text;
  if (width === 1) return '…';
  const keep = width - 1;
  const head = Math.ceil(keep / 2);
  const tail = keep - head;
  return `${text.slice(0, head)}…${tail > 0 ? text.slice(text.length - tail) : ''}`;
}

/** Last path segment of a file path or URL, for progress bars. */
export function displayName(source: string): string {
  const noQuery = source.replace(/[?#].*$/, '');
  const parts = noQuery.split(/[\\/]/).filter(Boolean);
  return parts.length ? parts[parts.length - 1]! : source;
}

/** `[=====     ]` of `width` cells. */
export function bar(fraction: number, width: number): string {
  const f = Number.isFinite(fraction) ? Math.min(1, Math.max(0, fraction)) : 0;
  const full = Math.round(f * width);
  return '█'.repeat(full) + '░'.repeat(Math.max(0, width - full));
}

export type Paint = (style: 'red' | 'yellow' | 'green' | 'dim' | 'bold' | 'cyan', text: string) => string;

const ANSI: Record<Parameters<Paint>[0], [number, number]> = {
  red: [31, 39],
  yellow: [33, 39],
  green: [32, 39],
  cyan: [36, 39],
  dim: [2, 22],
  bold: [1, 22],
};

export function makePaint(enabled: boolean): Paint {
  if (!enabled) return (_style, text) => text;
  return (style, text) => `\u001b[${ANSI[style][0]}m${text}\u001b[${ANSI[style][1]}m`;
}

/**
 * Colour is on only for a TTY, and never when NO_COLOR is set to a non-empty value
 * (https://no-color.org) or TERM is `dumb`.
 */
export function colorEnabled(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.TERM === 'dumb') return false;
  return stream.isTTY === true;
}

export interface SummaryExtras {
  /** Files the plan held (what a dry run would upload). */
  plannedFiles?: number;
  plannedBatches?: number;
  plannedBytes?: number;
  /** Images the plan yields once ZIPs are expanded. */
  plannedImages?: number;
}

/**
 * The one-line final summary:
 * `uploaded 647, skipped 0, rejected 3, failed 0 — 12.3 MB in 4.2 s — manifest: /abs/batchup-manifest.json`
 */
export function formatSummary(s: RunSummary, extras: SummaryExtras = {}): string {
  const parts: string[] = [];
  if (s.dryRun) {
    const files = extras.plannedFiles ?? 0;
    const batches = extras.plannedBatches ?? 0;
    parts.push(
      `dry run: would upload ${files} ${files === 1 ? 'file' : 'files'}` +
        (extras.plannedImages !== undefined && extras.plannedImages !== files ? ` (${extras.plannedImages} images)` : '') +
        ` in ${batches} ${batches === 1 ? 'batch' : 'batches'}` +
        ` (${formatBytes(extras.plannedBytes ?? 0)}), skipped ${s.skipped}, rejected ${s.rejected} — nothing was sent`,
    );
    parts.push(`took ${formatDuration(s.durationMs)}`);
  } else {
    parts.push(`uploaded ${s.uploaded}, skipped ${s.skipped}, rejected ${s.rejected}, failed ${s.failed}`);
    parts.push(`${formatBytes(s.bytes)} in ${formatDuration(s.durationMs)}`);
  }
  if (s.manifestPath) parts.push(`manifest: ${s.manifestPath}`);
  const line = parts.join(' — ');
  return s.interrupted ? `interrupted: ${line}` : line;
}
