/** Builders shared by the validate-*.test.ts files: temp files, candidates, hand-made ZIPs. */
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32, deflateRawSync } from 'node:zlib';
import type { Candidate, ValidationResult } from '../../src/core/types.js';
import { validateCandidate } from '../../src/core/validate/index.js';
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

export interface ZipEntrySpec {
  name: string | Buffer;
  data?: Buffer;
  /** 0 stored, 8 deflate (default), anything else is written stored but labelled with it. */
  method?: number;
  flags?: number;
  /** Unix mode in the high 16 bits of the external attributes (e.g. 0o120777 for a symlink). */
  mode?: number;
  /** Lie about the uncompressed size (local and central). */
  declaredSize?: number;
  crc?: number;
}

/** A minimal ZIP writer (no data descriptors). `overlap` adds an entry sharing entry 0's data. */
export function makeZip(entries: ZipEntrySpec[], opts: { overlap?: boolean } = {}): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  const records: { name: Buffer; central: Buffer }[] = [];
  for (const e of entries) {
    const name = typeof e.name === 'string' ? Buffer.from(e.name, 'utf8') : e.name;
    const data = e.data ?? Buffer.alloc(0);
    const method = e.method ?? 8;
    const body = method === 8 ? deflateRawSync(data) : data;
    const flags = (e.flags ?? 0) | (typeof e.name === 'string' && /[^\x00-\x7f]/.test(e.name) ? 0x800 : 0);
    const crc = e.crc ?? crc32(data) >>> 0;
    const usize = e.declaredSize ?? data.length;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(flags, 6);
    local.writeUInt16LE(method, 8);
    local.writeUInt16LE(0x6000, 10);
    local.writeUInt16LE(0x5a21, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(usize, 22);
    local.writeUInt16LE(name.length, 26);
    locals.push(local, name, body);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(flags, 8);
    central.writeUInt16LE(method, 10);
    central.writeUInt16LE(0x6000, 12);
    central.writeUInt16LE(0x5a21, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(usize, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(((e.mode ?? 0o100644) << 16) >>> 0, 38);
    central.writeUInt32LE(offset, 42);
    records.push({ name, central });
    offset += 30 + name.length + body.length;
  }
  for (const r of records) centrals.push(r.central, r.name);
  if (opts.overlap && records[0]) {
    const copy = Buffer.from(records[0].central);
    const name = Buffer.from('again-' + records[0].name.toString('utf8'));
    copy.writeUInt16LE(name.length, 28);
    centrals.push(copy, name);
  }
  const cd = Buffer.concat(centrals);
  const count = records.length + (opts.overlap ? 1 : 0);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(count, 8);
  eocd.writeUInt16LE(count, 10);
  eocd.writeUInt32LE(cd.length, 12);
  eocd.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, eocd]);
}
