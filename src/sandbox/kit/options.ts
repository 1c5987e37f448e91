/**
 * A protocol's own settings, declared once: key, default, the `batchup serve` flag that sets it,
 * how the flag's text is parsed and how a value given in code is checked. The CLI builds its
 * flags from these declarations and the server resolves `protocolOptions` with them, so a new
 * protocol's settings need no edit anywhere else.
 *
 * This file imports nothing but faults.ts (no imports either): `batchup --help` reads the
 * declarations without loading the sandbox.
 */
import { ALL_FAULT_KINDS, type FaultKind } from './faults.js';

/** A bad flag value or option; the message names the flag (CLI) or the option (code). */
export class OptionError extends RangeError {
  constructor(message: string) {
    super(message);
    this.name = 'OptionError';
  }
}

export interface OptionSpec<T = unknown> {
  /** Commander flag syntax, e.g. `--presign-ttl <seconds>`; none: settable in code only. */
  flag?: string;
  /** One help line; the protocol's name and the default are added to it. */
  description: string;
  default: T;
  /** The default as help shows it, when `String(default)` would not do. */
  defaultText?: string;
  /** The flag's text → a value; throws OptionError naming `flag`. */
  parse(text: string, flag: string): T;
  /** A value given in code; throws OptionError naming `what`. */
  check(value: unknown, what: string): T;
  /** Other options this flag sets too when they were not given (`--part-faults` → a part fault rate). */
  implies?: Readonly<Record<string, unknown>>;
}

export type OptionSpecs<O> = { readonly [K in keyof O]: OptionSpec<O[K]> };

/** `partial` over the declared defaults, every value checked. */
export function resolveOptions<O>(protocol: string, specs: OptionSpecs<O>, partial: Partial<O> = {}): O {
  const out = {} as O;
  for (const key of Object.keys(specs) as (keyof O & string)[]) {
    const spec = specs[key];
    const given = partial[key];
    out[key] = given === undefined ? spec.default : spec.check(given, `${protocol} sandbox option ${key}`);
  }
  for (const key of Object.keys(partial)) {
    if (!(key in specs)) throw new OptionError(`${protocol} has no sandbox option '${key}' (known: ${Object.keys(specs).join(', ')})`);
  }
  return out;
}

const trimmed = (s: string) => String(s).trim();

/** A number ≥ 0 (or > 0), up to `max`, decimals allowed (seconds, rates). */
export function numberOption(o: {
  default: number;
  description: string;
  flag?: string;
  allowZero?: boolean;
  max?: number;
  defaultText?: string;
}): OptionSpec<number> {
  const max = o.max ?? Infinity;
  const allowZero = o.allowZero ?? false;
  const fits = (n: number) => Number.isFinite(n) && n >= 0 && (allowZero || n > 0) && n <= max;
  const rule = `must be a ${allowZero ? 'non-negative' : 'positive'} number${Number.isFinite(max) ? ` up to ${max}` : ''}`;
  return {
    flag: o.flag,
    description: o.description,
    default: o.default,
    defaultText: o.defaultText,
    parse(text, flag) {
      const s = trimmed(text);
      const n = /^[+]?(\d+\.?\d*|\.\d+)$/.test(s) ? Number(s) : NaN;
      if (!fits(n)) throw new OptionError(`${flag} ${rule}, got "${s}"`);
      return n;
    },
    check(value, what) {
      if (typeof value !== 'number' || !fits(value)) throw new OptionError(`${what} ${rule}, got ${String(value)}`);
      return value;
    },
  };
}

/** A whole number from `min` to `max`. */
export function integerOption(o: { default: number; description: string; flag?: string; min: number; max?: number }): OptionSpec<number> {
  const max = o.max ?? Number.MAX_SAFE_INTEGER;
  const fits = (n: number) => Number.isSafeInteger(n) && n >= o.min && n <= max;
  const rule = `must be a whole number from ${o.min} to ${max}`;
  return {
    flag: o.flag,
    description: o.description,
    default: o.default,
    parse(text, flag) {
      const s = trimmed(text);
      const n = /^[+]?\d+$/.test(s) ? Number(s) : NaN;
      if (!fits(n)) throw new OptionError(`${flag} ${rule}, got "${s}"`);
      return n;
    },
    check(value, what) {
      if (typeof value !== 'number' || !fits(value)) throw new OptionError(`${what} ${rule}, got ${String(value)}`);
      return value;
    },
  };
}

/**
 * A comma list of fault kinds (`cut,reset`), de-duplicated. Every kind is accepted; `listed` are
 * the ones messages name (API faults leave out 'cut', which only means something for parts).
 */
export function faultKindsOption(o: {
  default: FaultKind[];
  description: string;
  flag?: string;
  implies?: Record<string, unknown>;
  listed?: readonly FaultKind[];
}): OptionSpec<FaultKind[]> {
  const choices = `choose from ${(o.listed ?? ALL_FAULT_KINDS).join(',')}`;
  const check = (kinds: readonly string[], what: string): FaultKind[] => {
    if (kinds.length === 0) throw new OptionError(`${what} is empty (${choices})`);
    for (const k of kinds) {
      if (!(ALL_FAULT_KINDS as readonly string[]).includes(k)) throw new OptionError(`${what}: unknown kind '${k}' (${choices})`);
    }
    return [...new Set(kinds)] as FaultKind[];
  };
  return {
    flag: o.flag,
    description: o.description,
    default: o.default,
    defaultText: o.default.join(','),
    implies: o.implies,
    parse: (text, flag) => check(parseKindList(text), flag),
    check(value, what) {
      if (!Array.isArray(value)) throw new OptionError(`${what} must be a list of fault kinds (${choices})`);
      return check(value.map(String), what);
    },
  };
}

/** `500, 429,,reset` → ['500', '429', 'reset']. */
export function parseKindList(text: string): string[] {
  return text
    .split(',')
    .map((k) => k.trim())
    .filter(Boolean);
}
