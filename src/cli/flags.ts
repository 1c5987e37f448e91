/** Providers' flags (declared without commander in core/provider.ts) as commander options, and their values. */
import { Option } from 'commander';
import type { FlagSpec, FlagValues } from '../core/provider.js';

/** Commander argParser of a repeatable option: every value, in order. */
export const collect = (value: string, previous: string[] = []) => [...previous, value];

/** A provider's flag as a commander option (repeatable ones collect, required ones are enforced). */
export function optionOf(f: FlagSpec, note = ''): Option {
  const o = new Option(f.flags, `${f.description}${f.env ? ` (env ${f.env})` : ''}${note}`);
  if (f.repeatable) o.argParser(collect);
  if (f.required) o.makeOptionMandatory();
  return o;
}

/** The values of a command's own flags by key: the flag as typed, else its env variable. */
export function flagValues(specs: readonly FlagSpec[], f: Record<string, unknown>, env: NodeJS.ProcessEnv): FlagValues {
  const out: Record<string, FlagValues[string]> = {};
  for (const spec of specs) {
    const v = f[new Option(spec.flags).attributeName()];
    if (typeof v === 'string' || typeof v === 'boolean' || Array.isArray(v)) out[spec.key] = v as FlagValues[string];
    else if (spec.env && env[spec.env]) out[spec.key] = env[spec.env];
  }
  return out;
}

/** The closing lines of a command's help: a few real command lines. */
export const examples = (lines: readonly string[]) => `\nExamples:\n${lines.map((l) => `  ${l}`).join('\n')}\n`;
