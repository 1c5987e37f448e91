/**
 * claid's own flags and their typed options, checked before any input is read: `--operations`
 * (inline JSON when it starts with `{`, else a file holding it) must be an object of the
 * documented sections only, `--output` a storage URI or `{format, destination, metadata}` —
 * with the same rules the server applies (contract.ts), so a bad key is exit 2 naming it, before
 * any request.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { usageError } from '../../core/errors.js';
import type { FlagSpec, FlagValues } from '../../core/provider.js';
import { OPERATION_SECTIONS, destinationOf, operationsProblem, outputProblem, parseStorageUri, type Problem } from './contract.js';

export const CLAID_FLAGS: FlagSpec[] = [
  {
    flags: '--operations <json|file>',
    description: 'the edit, as claid operations JSON (inline when it starts with {, else a file holding it)',
    key: 'operations',
    env: 'BATCHUP_CLAID_OPERATIONS',
  },
  {
    flags: '--output <uri|json>',
    description: 'where outputs go and their format: storage://NAME/FOLDER/ or {"format":"png","destination":…} (default: temporary URLs, jpeg)',
    key: 'output',
  },
  { flags: '--recursive', description: 'a storage://NAME/FOLDER/ input includes its subfolders', key: 'recursive' },
  { flags: '--no-check-urls', description: 'submit URLs without checking them first (reachable, an image by its bytes)', key: 'checkUrls' },
];

export interface ClaidOptions {
  operations: Record<string, unknown>;
  output?: string | Record<string, unknown>;
  recursive: boolean;
  /** Probe every URL before it is submitted (a bad one would fail its whole batch). */
  checkUrls: boolean;
}

function parseJson(text: string, flag: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw usageError(`${flag}: not valid JSON (${(err as Error).message})`);
  }
}

/** Inline JSON when it starts with `{`, else the content of the file it names. */
function jsonArgument(value: string, flag: string): unknown {
  const text = value.trim();
  if (text.startsWith('{')) return parseJson(text, flag);
  let content: string;
  try {
    content = readFileSync(resolve(text), 'utf8');
  } catch (err) {
    throw usageError(`${flag}: cannot read ${text} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); inline JSON starts with {`);
  }
  return parseJson(content, `${flag} ${text}`);
}

/** A contract problem as a usage error naming the bad key. */
function refuse(flag: string, p: Problem): never {
  const key = p.path.slice(1).join('.') || p.path.join('.');
  if (p.kind === 'extra' && p.path.length === 2 && p.path[0] === 'operations') {
    throw usageError(`${flag}: unknown section '${key}' (claid takes ${OPERATION_SECTIONS.join(', ')})`);
  }
  if (p.kind === 'extra') throw usageError(`${flag}: unknown key '${key}'`);
  throw usageError(`${flag}: ${key ? `${key}: ` : ''}${p.message}`);
}

/** Typed options; every check that needs no network. Throws USAGE errors. */
export function claidOptions(values: FlagValues): ClaidOptions {
  if (typeof values.operations !== 'string' || !values.operations.trim()) {
    throw usageError('claid needs --operations JSON|FILE, e.g. --operations \'{"resizing":{"width":500}}\'');
  }
  const operations = jsonArgument(values.operations, '--operations');
  const opsProblem = operationsProblem(operations);
  if (opsProblem) refuse('--operations', opsProblem);

  let output: ClaidOptions['output'];
  if (typeof values.output === 'string' && values.output.trim()) {
    const text = values.output.trim();
    output = text.startsWith('{') ? (parseJson(text, '--output') as ClaidOptions['output']) : text;
    const outProblem = outputProblem(output);
    if (outProblem) refuse('--output', outProblem);
    const dest = destinationOf(output);
    // Many inputs go to one destination: a file path would make every output overwrite the last.
    if (dest !== undefined && !parseStorageUri(dest)?.folder) throw usageError(`--output: the destination ${dest} must be a folder (end it with /)`);
  }
  return {
    operations: operations as Record<string, unknown>,
    ...(output !== undefined ? { output } : {}),
    recursive: values.recursive === true,
    checkUrls: values.checkUrls !== false,
  };
}

/** JSON with its object keys sorted, so equal options always give the same text. */
export function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .filter((k) => o[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${stableJson(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

/** The edit and where it goes: changing either edits the inputs again. */
export const claidFingerprint = (o: ClaidOptions) =>
  stableJson({ operations: o.operations, output: o.output ?? null, ...(o.recursive ? { recursive: true } : {}) });
