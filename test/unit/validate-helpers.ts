/** Builders shared by the validate-*.test.ts files: temp files, candidates, hand-made ZIPs. */
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Candidate, ValidationResult } from '../../src/core/types.js';
import { validateCandidate } from '../../src/core/validate/index.js';
import { makeZip as makeZipWith, type ZipEntry } from '../../src/devtools/generate.js';
import { bachPolicy } from '../../src/providers/bach/policy.js';

export const FIXTURES = resolve(dirname(fileURLToPath(import.meta.url)), '../../fixtures/images');
export const fixture = (name: string) => readFileSync(join(FIXTURES, name));

export function tempDir(): { dir: string; write: (name: string, data: Buffer | string) => string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'batchup-validate-'));
  return {
    dir,
    write: (name, data) => {
      const p = join(dir, name);
      writeFileSync(p, data);
      return p;
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

let order = 0;
export function candidate(path: string): Candidate {
  return { source: path, kind: 'file', path, size: statSync(path).size, order: order++ };
}

export async function validatePath(path: string, policy = bachPolicy): Promise<ValidationResult> {
  return validateCandidate(candidate(path), policy);
}

/** Rule of a rejection, or 'ok'. */
export const ruleOf = (r: ValidationResult) => (r.ok ? 'ok' : r.rejection.rule);
export const messageOf = (r: ValidationResult) => (r.ok ? '' : r.rejection.message);

export interface ZipEntrySpec extends Omit<ZipEntry, 'deflate'> {
  /** 0 stored, 8 deflate (default), anything else is written stored but labelled with it. */
  method?: number;
  /** Unix mode in the high 16 bits of the external attributes (default 0o100644; 0o120777 a symlink). */
  mode?: number;
}

/**
 * The devtools ZIP writer with these tests' defaults: deflated, Unix mode 0o100644, and the UTF-8
 * flag only on non-ASCII string names (added to any `flags`).
 */
export function makeZip(entries: ZipEntrySpec[], opts: { overlap?: boolean } = {}): Buffer {
  return makeZipWith(
    entries.map((e) => ({
      ...e,
      method: e.method ?? 8,
      flags: (e.flags ?? 0) | (typeof e.name === 'string' && /[^\x00-\x7f]/.test(e.name) ? 0x800 : 0),
      mode: e.mode ?? 0o100644,
    })),
    opts,
  );
}
