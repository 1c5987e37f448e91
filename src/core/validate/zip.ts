/**
 * ZIP archives, read with yauzl over our own byte source (never extracted to disk).
 *
 * 1. Directory pass (metadata only): entry count; names (decoded by us, so a Shift-JIS name is
 *    not mistaken for a backslash path) must be relative, without `..`, backslash separators,
 *    control characters or duplicates; no symlinks; no encryption (traditional, AES, strong);
 *    only stored/deflated data; every entry's data inside the archive and no two entries
 *    sharing bytes (overlapping-entry bombs); declared totals and ratios within the policy;
 *    image entries within the per-file size limit; no archives inside (by name).
 * 2. Data pass: every file entry is inflated as a stream (counted, CRC-checked; yauzl stops an
 *    entry that inflates past its declared size). Image entries (allowed extension) are kept in
 *    memory — at most the per-file limit — and validated exactly like files on disk; other
 *    entries are sniffed for archive signatures and otherwise skipped (the server ignores them).
 *
 * Junk (`__MACOSX/`, AppleDouble `._*`) and directories are skipped and reported. Every finding
 * is collected and the most serious one wins (a size lie outranks a short stream elsewhere).
 * An archive with no image entries is `empty-zip`.
 */
import { crc32 } from 'node:zlib';
import type { Entry, ZipFile } from 'yauzl';
import type { RejectRule, ValidationPolicy, ZipImageEntry } from '../types.js';
import { ARCHIVE_EXTENSIONS, ARCHIVE_FORMATS, extensionOf, fileTypeOf } from './formats.js';
import { Problem, type ByteSource } from './source.js';

export interface ZipOutcome {
  entries: ZipImageEntry[];
  skipped: { path: string; reason: string }[];
}

/** Validate an image entry's bytes; throws Problem. Returns the detected format. */
export type EntryInspector = (bytes: Buffer, entryPath: string) => Promise<{ format: string }>;

/** Default for `policy.zip.ratioMinBytes`: ratios of smaller entries are not meaningful. */
export const DEFAULT_RATIO_MIN_BYTES = 1024 * 1024;

/** Most serious first: the rejection reports the first rule in this order that was found. */
const SEVERITY: readonly RejectRule[] = [
  'unsafe-zip',
  'zip-bomb',
  'encrypted-zip',
  'nested-zip',
  'unsupported-type',
  'too-large',
  'image-bomb',
  'unsafe-svg',
  'disguised',
  'corrupt',
  'empty-file',
  'unreadable',
  'empty-zip',
];

/** An entry name fit for a one-line message: control characters escaped, long names cut. */
const show = (name: string) => {
  const safe = name.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return safe.length > 80 ? `${safe.slice(0, 77)}…` : safe;
};
const mb = (n: number) => (n / (1024 * 1024)).toFixed(2);

interface Finding {
  rule: RejectRule;
  detail: string;
}

/** Map a yauzl / zlib error to a rule. `entry` names the entry being read, if any. */
export function classify(err: Error, entry?: string): Finding {
  const m = err.message;
  const who = entry === undefined ? 'archive' : `entry '${show(entry)}'`;
  if (/strong encryption/i.test(m)) return { rule: 'encrypted-zip', detail: 'uses strong encryption' };
  if (/multi-disk/i.test(m)) return { rule: 'unsupported-type', detail: 'is a multi-disk (spanned) archive' };
  if (/compression method/i.test(m)) return { rule: 'unsupported-type', detail: `${who} uses an unsupported compression method` };
  if (/too many bytes in the stream/i.test(m)) return { rule: 'unsafe-zip', detail: `${who} inflates past its declared size` };
  if (/not enough bytes in the stream/i.test(m)) return { rule: 'corrupt', detail: `${who} inflates to fewer bytes than declared` };
  if (/End of central directory record signature not found/i.test(m)) {
    return { rule: 'corrupt', detail: 'is not a complete ZIP archive (no end of central directory)' };
  }
  const code = (err as NodeJS.ErrnoException).code;
  if (typeof code === 'string' && code.startsWith('Z_')) return { rule: 'corrupt', detail: `${who} has corrupt compressed data (${m})` };
  return { rule: 'corrupt', detail: `${entry === undefined ? 'ZIP structure is damaged' : `${who} is damaged`} (${m})` };
}

const isSymlink = (e: Entry) => ((e.externalFileAttributes >>> 16) & 0o170000) === 0o120000;

function junkReason(name: string): string | undefined {
  const parts = name.split('/');
  if (parts[0] === '__MACOSX') return 'macOS metadata (__MACOSX)';
  if ((parts[parts.length - 1] ?? '').startsWith('._')) return 'macOS metadata (AppleDouble)';
  return undefined;
}

/** yauzl and our reader over it, loaded with the first archive: most runs have none. */
const reader = () => import('./zip-reader.js');

export async function openZip(src: ByteSource): Promise<ZipFile> {
  return (await reader()).openZip(src);
}

/** When yauzl cannot read the archive, an encrypted first local header explains why. */
async function encryptedLocalHeader(src: ByteSource): Promise<boolean> {
  const h = await src.read(0, 30);
  if (h.length < 30 || h.readUInt32LE(0) !== 0x04034b50) return false;
  // Bit 0: encrypted (bit 6 strong encryption / bit 13 masked headers only ever come with it).
  return (h.readUInt16LE(6) & 0x1) !== 0 || h.readUInt16LE(8) === 99;
}

export async function checkZip(src: ByteSource, policy: ValidationPolicy, inspect: EntryInspector): Promise<ZipOutcome> {
  const findings: Finding[] = [];
  const add = (rule: RejectRule, detail: string) => findings.push({ rule, detail });
  const worst = (): Finding | undefined => {
    for (const r of SEVERITY) {
      const f = findings.find((x) => x.rule === r);
      if (f) return f;
    }
    return findings[0];
  };
  const fatal = () => findings.some((f) => f.rule === 'unsafe-zip' || f.rule === 'zip-bomb');
  const finish = (): never => {
    const f = worst()!;
    throw new Problem(f.rule, f.detail);
  };

  let zf: ZipFile;
  try {
    zf = await openZip(src);
  } catch (err) {
    if (await encryptedLocalHeader(src)) throw new Problem('encrypted-zip', 'has encrypted entries');
    const f = classify(err as Error);
    throw new Problem(f.rule, f.detail);
  }

  try {
    if (zf.entryCount > policy.zip.maxEntries) {
      throw new Problem('zip-bomb', `has ${zf.entryCount} entries, over the limit of ${policy.zip.maxEntries}`);
    }

    // ---- 1. directory pass
    interface Row {
      e: Entry;
      name: string;
      kind: 'dir' | 'junk' | 'image' | 'other';
      readable: boolean;
    }
    const rows: Row[] = [];
    const { decodeName } = await reader();
    try {
      for await (const e of zf.eachEntry()) {
        const { name, backslash } = decodeName(e);
        const shown = `entry '${show(name)}'`;
        let readable = true;
        const bad = (rule: RejectRule, detail: string) => {
          add(rule, detail);
          readable = false;
        };
        if (name === '') bad('corrupt', 'has an entry without a name');
        else if (/[\u0000-\u001f\u007f]/.test(name)) bad('unsafe-zip', `${shown} has control characters in its name`);
        else if (backslash) bad('unsafe-zip', `${shown} uses backslash path separators`);
        else if (name.startsWith('/') || /^[a-zA-Z]:/.test(name)) bad('unsafe-zip', `${shown} is an absolute path`);
        else if (name.split('/').includes('..')) bad('unsafe-zip', `${shown} escapes the archive`);
        if (isSymlink(e)) bad('unsafe-zip', `${shown} is a symbolic link`);
        if (e.isEncrypted() || e.compressionMethod === 99 || (e.generalPurposeBitFlag & 0x40) !== 0) {
          bad('encrypted-zip', `${shown} is encrypted`);
        } else if (e.compressionMethod !== 0 && e.compressionMethod !== 8) {
          bad('unsupported-type', `${shown} uses unsupported compression method ${e.compressionMethod}`);
        }
        const kind: Row['kind'] = name.endsWith('/')
          ? 'dir'
          : junkReason(name)
            ? 'junk'
            : (() => {
                const fmt = policy.extensions.get(extensionOf(name));
                return fmt !== undefined && fmt !== 'zip' ? 'image' : 'other';
              })();
        rows.push({ e, name, kind, readable });
      }
    } catch (err) {
      if (await encryptedLocalHeader(src)) add('encrypted-zip', 'has encrypted entries');
      else {
        const f = classify(err as Error);
        add(f.rule, f.detail);
      }
    }

    // Duplicates (after trivial normalisation).
    const seen = new Set<string>();
    for (const r of rows) {
      const key = r.name
        .normalize('NFC')
        .replace(/^(\.\/)+/, '')
        .replace(/\/+/g, '/')
        .replace(/\/$/, '');
      if (seen.has(key)) {
        add('unsafe-zip', `entry '${show(r.name)}' appears more than once`);
        r.readable = false;
      }
      seen.add(key);
    }

    // Data ranges: inside the archive, and disjoint.
    const ranged = rows
      .map((r) => ({ r, start: r.e.relativeOffsetOfLocalHeader, end: r.e.relativeOffsetOfLocalHeader + 30 + r.e.fileNameLength + r.e.compressedSize }))
      .filter(({ r, end }) => {
        if (end > src.size) {
          add('corrupt', `entry '${show(r.name)}' data extends past the end of the archive`);
          r.readable = false;
          return false;
        }
        return true;
      })
      .sort((a, b) => a.start - b.start);
    const inBounds = new Set(ranged.map((x) => x.r));
    for (let i = 1; i < ranged.length; i++) {
      if (ranged[i]!.start < ranged[i - 1]!.end) {
        add('unsafe-zip', `entries '${show(ranged[i - 1]!.r.name)}' and '${show(ranged[i]!.r.name)}' overlap (overlapping-entry zip bomb)`);
        break;
      }
    }

    // Declared sizes (of entries whose data is really in the archive; others are corrupt).
    // The ratio guard applies to image entries: those are held in memory and decoded by the
    // server. Other entries are only streamed through a counter, bounded by the total.
    const ratioMin = policy.zip.ratioMinBytes ?? DEFAULT_RATIO_MIN_BYTES;
    let total = 0;
    for (const r of rows) {
      if (r.kind === 'dir' || !inBounds.has(r)) continue;
      const { uncompressedSize: u, compressedSize: c } = r.e;
      total += u;
      if (r.kind === 'image' && u > ratioMin && u / Math.max(c, 1) > policy.zip.maxRatio) {
        add('zip-bomb', `entry '${show(r.name)}' expands ${Math.round(u / Math.max(c, 1))}× (limit ${policy.zip.maxRatio}×)`);
      }
      if (r.kind === 'image' && u > policy.maxFileSize) {
        add('too-large', `entry '${show(r.name)}' is ${mb(u)} MB, over the ${mb(policy.maxFileSize)} MB limit`);
        r.readable = false;
      }
      if (r.kind === 'other' && ARCHIVE_EXTENSIONS.has(extensionOf(r.name))) {
        add('nested-zip', `entry '${show(r.name)}' is an archive inside the archive`);
      }
    }
    if (total > policy.zip.maxTotalUncompressed) {
      add('zip-bomb', `declares ${mb(total)} MB uncompressed, over the ${mb(policy.zip.maxTotalUncompressed)} MB limit`);
    }

    // ---- 2. data pass
    const entries: ZipImageEntry[] = [];
    const skipped: ZipOutcome['skipped'] = [];
    for (const r of rows) {
      if (fatal()) break;
      if (r.kind === 'dir') {
        skipped.push({ path: r.name, reason: 'directory' });
        continue;
      }
      if (!r.readable) continue;
      const keepAll = r.kind === 'image';
      const keepHead = r.kind === 'other';
      const parts: Buffer[] = [];
      let kept = 0;
      let n = 0;
      let crc = 0;
      try {
        const rs = await zf.openReadStreamPromise(r.e);
        for await (const chunk of rs as AsyncIterable<Buffer>) {
          n += chunk.length;
          crc = crc32(chunk, crc);
          if (keepAll || (keepHead && kept < 4100)) {
            parts.push(chunk);
            kept += chunk.length;
          }
        }
      } catch (err) {
        const f = classify(err as Error, r.name);
        add(f.rule, f.detail);
        continue;
      }
      if (crc >>> 0 !== r.e.crc32 >>> 0) {
        add('corrupt', `entry '${show(r.name)}' fails its CRC check`);
        continue;
      }
      if (r.kind === 'junk') {
        skipped.push({ path: r.name, reason: junkReason(r.name)! });
        continue;
      }
      const data = Buffer.concat(parts);
      if (r.kind === 'other') {
        let nested = false;
        if (data.length > 0) {
          // Unknown content is fine for a skipped entry.
          const ft = await fileTypeOf(data.subarray(0, 4100));
          nested = ft !== undefined && ARCHIVE_FORMATS.has(ft);
        }
        if (nested) add('nested-zip', `entry '${show(r.name)}' is an archive inside the archive`);
        else skipped.push({ path: r.name, reason: 'not an image' });
        continue;
      }
      try {
        const { format } = await inspect(data, r.name);
        entries.push({ path: r.name, size: n, format });
      } catch (err) {
        if (!(err instanceof Problem)) throw err;
        add(err.rule, `entry '${show(r.name)}': ${err.detail}`);
      }
    }

    if (findings.length > 0) finish();
    if (entries.length === 0) throw new Problem('empty-zip', 'contains no images');
    return { entries, skipped };
  } finally {
    zf.close();
  }
}
