/**
 * Values typed on the command line, parsed one way for every flag (and config value) that takes
 * them: whole numbers in a range, positive numbers, durations, byte sizes. Each throws a USAGE
 * (or CONFIG) error that names the flag and shows what was typed.
 */
import { configError, usageError } from './errors.js';

/** A whole number within [min, max]; `what` names it in the error. */
export function parseIntInRange(raw: string | number, min: number, max: number, what: string, kind: 'usage' | 'config' = 'usage'): number {
  const s = String(raw).trim();
  const n = /^[+]?\d+$/.test(s) ? Number(s) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    const msg = `${what} must be a whole number from ${min} to ${max}, got "${s}"`;
    throw kind === 'usage' ? usageError(msg) : configError(msg);
  }
  return n;
}

/** A positive number (seconds etc.), decimals allowed. */
export function parsePositiveNumber(raw: string, what: string, { allowZero = false, max = Infinity } = {}): number {
  const s = String(raw).trim();
  const n = /^[+]?(\d+\.?\d*|\.\d+)$/.test(s) ? Number(s) : NaN;
  if (!Number.isFinite(n) || n < 0 || (!allowZero && n === 0) || n > max) {
    throw usageError(`${what} must be a ${allowZero ? 'non-negative' : 'positive'} number${Number.isFinite(max) ? ` up to ${max}` : ''}, got "${s}"`);
  }
  return n;
}

/** "3d", "12h", "90m", "45s", "1500ms" or plain seconds → milliseconds. */
export function parseDuration(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/i.exec(text);
  if (!m) return undefined;
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(m[2] ?? 's').toLowerCase() as 'ms'];
  return Math.round(Number(m[1]) * unit);
}

/** A duration flag (`--timeout 2m`, `--max-duration 50m`, `--refresh-before 3d`; plain numbers are seconds) → ms. */
export function durationFlag(text: string, flag: string, { min = 1 } = {}): number {
  const ms = parseDuration(text);
  if (ms === undefined || ms < min) throw usageError(`${flag} takes a duration like 45s, 90m, 12h or 3d (a plain number is seconds), got "${text}"`);
  return ms;
}
