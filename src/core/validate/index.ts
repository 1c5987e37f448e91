/**
 * Validation: turns a scanned Candidate into an Item or a Rejection, driven only by a
 * ValidationPolicy (no provider constants here).
 *
 * Per file, in order — the first failing step decides:
 *  1. readable, not empty (`empty-file`), not over the size limit (`too-large`);
 *  2. real format from the bytes (sniff.ts); an extension that claims another known format, or
 *     an allowed extension on unrecognisable content, is `disguised`;
 *  3. a structure check for the real format without decoding pixels (`corrupt`, `image-bomb`,
 *     `unsafe-svg`; a structure failure on content that is really text behind a magic number is
 *     `disguised`); ZIPs get the archive checks of zip.ts, each image entry going through the
 *     same steps 1–3; a ZIP-based document the name claims (`.docx`) is checked as that
 *     document instead (ooxml.ts), never as an upload archive; PDFs get a header/EOF check;
 *  4. an honest format or extension the policy does not allow is `unsupported-type` (checked
 *     last so a broken file is reported as broken even when its type is not allowed).
 * Only the head (64 KiB) plus targeted reads are done; PNG/GIF structure walks read the file
 * sequentially in 256 KiB windows; SVG text is read whole (bounded by the size limit).
 */
import { open } from 'node:fs/promises';
import { basename } from 'node:path';
import { SMALL_FILE_BYTES, readKnownSync, readSmallFileSync } from '../small-files.js';
import type { Candidate, Item, RejectRule, Rejection, ValidationPolicy, ValidationResult } from '../types.js';
import { checkBmp } from './bmp.js';
import { extensionOf, formatLabel, formatOfExtension, isKnownExtension, sameFormat } from './formats.js';
import { checkGif } from './gif.js';
import { checkIco } from './ico.js';
import { checkJpeg } from './jpeg.js';
import type { Checker, Shape } from './limits.js';
import { checkMp3 } from './mp3.js';
import { checkDocx } from './ooxml.js';
import { checkPdf } from './pdf.js';
import { checkPng } from './png.js';
import { sniff } from './sniff.js';
import { BufferSource, FileSource, Problem, fail, type ByteSource } from './source.js';
import { checkSvg } from './svg.js';
import { checkTiff } from './tiff.js';
import { checkAvi, checkEbml, checkIsoBmff } from './video.js';
import { checkWebp } from './webp.js';
import { checkZip, type ZipOutcome } from './zip.js';

export type { Shape } from './limits.js';

const HEAD_BYTES = 64 * 1024;

/** Structure checks by canonical format. Formats without one are accepted on their signature. */
export const CHECKERS: Readonly<Record<string, Checker>> = {
  png: checkPng,
  jpg: checkJpeg,
  gif: checkGif,
  bmp: checkBmp,
  webp: checkWebp,
  ico: checkIco,
  cur: checkIco,
  tiff: checkTiff,
  svg: checkSvg,
  mp4: checkIsoBmff,
  mov: checkIsoBmff,
  webm: checkEbml,
  mkv: checkEbml,
  avi: checkAvi,
  pdf: checkPdf,
  docx: checkDocx,
  mp3: checkMp3,
};

const mb = (n: number) => (n / (1024 * 1024)).toFixed(2);
const limitMb = (n: number) => (n % (1024 * 1024) === 0 ? String(n / (1024 * 1024)) : mb(n));

export interface Inspection extends Shape {
  format: string;
  zip?: ZipOutcome;
}

/**
 * Steps 1–4 on any byte source. `name` supplies the extension; `inZip` marks a ZIP entry (ZIPs
 * inside ZIPs never get here: they are nested archives). Throws Problem.
 */
export async function inspect(src: ByteSource, head: Buffer, name: string, policy: ValidationPolicy, inZip = false): Promise<Inspection> {
  const ext = extensionOf(name);
  const allowedAs = policy.extensions.get(ext);
  const claimed = allowedAs ?? formatOfExtension(ext);

  if (src.size === 0) fail('empty-file', 'file is empty');
  const limit = allowedAs === 'zip' && !inZip ? (policy.zip.maxArchiveSize ?? policy.maxFileSize) : policy.maxFileSize;
  if (src.size > limit) fail('too-large', `size is ${mb(src.size)} MB, over the limit of ${limitMb(limit)} MB`);

  const sniffed = await sniff(head, src, claimed);
  const real = sniffed.format;

  if (real === undefined) {
    if (allowedAs !== undefined) {
      fail('disguised', sniffed.text ? `content is text, not ${formatLabel(allowedAs)}` : `content is not ${formatLabel(allowedAs)}`);
    }
    return fail('unsupported-type', ext ? `extension '.${ext}' is not supported` : 'files without an extension are not supported');
  }
  if (claimed !== undefined && !sameFormat(claimed, real)) {
    if (allowedAs !== undefined || isKnownExtension(ext)) fail('disguised', `content is ${formatLabel(real)}, not ${formatLabel(claimed)}`);
    fail('unsupported-type', `extension '.${ext}' is not supported`);
  }

  let shape: Shape = {};
  let zip: ZipOutcome | undefined;
  if (real === 'zip' && inZip) {
    fail('nested-zip', 'is an archive inside the archive');
  } else if (real === 'zip' && allowedAs === 'zip' && policy.formats.has('zip')) {
    zip = await checkZip(src, policy, async (bytes, entryName) => {
      const r = await inspect(new BufferSource(bytes), bytes.subarray(0, HEAD_BYTES), entryName, policy, true);
      return { format: r.format };
    });
  } else {
    const checker = CHECKERS[real];
    if (checker) {
      try {
        shape = await checker(src, policy);
      } catch (err) {
        if (err instanceof Problem && err.rule === 'corrupt' && real !== 'svg' && sniffed.text) {
          fail('disguised', `content is text behind a ${formatLabel(real)} signature`);
        }
        if (!(err instanceof Problem) && err instanceof RangeError) fail('corrupt', `${formatLabel(real)} structure is malformed`);
        throw err;
      }
    }
  }

  if (!policy.formats.has(real) || allowedAs === undefined) {
    // Here the extension (if any) agrees with the content: name the format, not the extension.
    fail('unsupported-type', claimed !== undefined ? `${formatLabel(real)} files are not supported` : 'files without an extension are not supported');
  }
  return { format: real, ...shape, zip };
}

/**
 * What the first bytes of remote content (a URL's ranged GET) say: its real format, and whether
 * the name's extension tells the truth and the policy takes it — steps 1, 2 and 4 of `inspect`
 * (structure checks need the whole file). `size` is the total when the server said it. Throws
 * Problem.
 */
export async function inspectHead(head: Buffer, name: string, policy: ValidationPolicy, size?: number): Promise<{ format: string }> {
  const ext = extensionOf(name);
  const allowedAs = policy.extensions.get(ext);
  const claimed = allowedAs ?? formatOfExtension(ext);
  if (size === 0 || head.length === 0) fail('empty-file', 'is empty');
  if (size !== undefined && size > policy.maxFileSize) fail('too-large', `size is ${mb(size)} MB, over the limit of ${limitMb(policy.maxFileSize)} MB`);
  const real = (await sniff(head, new BufferSource(head), claimed)).format;
  if (real === undefined) fail(allowedAs ? 'disguised' : 'unsupported-type', `content is not ${claimed ? formatLabel(claimed) : 'a supported type'}`);
  if (claimed !== undefined && !sameFormat(claimed, real!)) fail('disguised', `content is ${formatLabel(real!)}, not ${formatLabel(claimed)}`);
  if (!policy.formats.has(real!)) fail('unsupported-type', `${formatLabel(real!)} files are not supported`);
  return { format: real! };
}

function reject(c: Candidate, rule: RejectRule, detail: string, size?: number): ValidationResult {
  const name = basename(c.path ?? c.source);
  const rejection: Rejection = {
    source: c.source,
    rule,
    message: `${name}: ${detail} (${rule})`,
    size: size ?? c.size,
    mtimeMs: c.mtimeMs,
  };
  return { ok: false, rejection };
}

function validateUrl(c: Candidate): ValidationResult {
  const raw = c.url ?? c.source;
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return { ok: false, rejection: { source: c.source, rule: 'bad-url', message: `${raw}: not a valid URL (bad-url)` } };
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    return { ok: false, rejection: { source: c.source, rule: 'bad-url', message: `${raw}: only http(s) URLs can be fetched by the server (bad-url)` } };
  }
  if (!u.hostname) {
    return { ok: false, rejection: { source: c.source, rule: 'bad-url', message: `${raw}: URL has no host (bad-url)` } };
  }
  let name = u.hostname;
  const last = u.pathname.split('/').filter(Boolean).pop();
  if (last) {
    try {
      name = decodeURIComponent(last);
    } catch {
      name = last;
    }
  }
  return { ok: true, item: { source: c.source, kind: 'url', url: u.href, order: c.order, name } };
}

/** `storage://NAME/PATH`: a folder (ending in `/`) or one file in a storage the provider knows by NAME. */
function validateStorage(c: Candidate): ValidationResult {
  const m = /^storage:\/\/([^/]+)(\/.*)?$/i.exec(c.source);
  if (!m) return { ok: false, rejection: { source: c.source, rule: 'bad-url', message: `${c.source}: a storage input is storage://NAME/PATH/ (bad-url)` } };
  const path = m[2] ?? '/';
  const name = path.split('/').filter(Boolean).pop() ?? m[1]!;
  return { ok: true, item: { source: c.source, kind: 'storage', order: c.order, name } };
}

/** An opened file under validation: its size and a byte source (none when it is not a regular file). */
interface Opened {
  size: number;
  mtimeMs?: number;
  src?: ByteSource & { head: Buffer };
  close(): Promise<void> | void;
}

/**
 * Small files are read whole in one synchronous go into a reused buffer (see small-files.ts), with
 * no stat when they still have the size the scan saw; others (and anything unexpected) get a
 * handle, a stat and the head cached.
 */
async function openForValidation(path: string, sizeHint: number | undefined): Promise<Opened> {
  if (sizeHint !== undefined && sizeHint <= SMALL_FILE_BYTES) {
    const known = readKnownSync(path, sizeHint);
    if (known) return { size: sizeHint, src: Object.assign(new BufferSource(known.bytes), { head: known.bytes }), close: known.release };
    const { stats, bytes } = readSmallFileSync(path);
    if (!stats.isFile()) return { size: stats.size, close: () => undefined };
    if (bytes) return { size: stats.size, mtimeMs: stats.mtimeMs, src: Object.assign(new BufferSource(bytes), { head: bytes }), close: () => undefined };
    // It grew past the small-file size since the scan: read it like any large file.
  }
  const fh = await open(path, 'r');
  const close = () => fh.close().catch(() => undefined);
  try {
    const stats = await fh.stat();
    if (!stats.isFile()) return { size: stats.size, close };
    return { size: stats.size, mtimeMs: stats.mtimeMs, src: await FileSource.open(fh, stats.size, HEAD_BYTES), close };
  } catch (err) {
    await close();
    throw err;
  }
}

const errnoOf = (err: unknown) => (err as NodeJS.ErrnoException).code ?? (err as Error).message;

/** Validate one candidate. Never throws for a per-file problem: those become rejections. */
export async function validateCandidate(c: Candidate, policy: ValidationPolicy): Promise<ValidationResult> {
  if (c.kind === 'url') return validateUrl(c);
  if (c.kind === 'storage') return validateStorage(c);
  const path = c.path ?? c.source;
  let opened: Opened;
  try {
    opened = await openForValidation(path, c.size);
  } catch (err) {
    return reject(c, 'unreadable', `cannot be opened (${errnoOf(err)})`);
  }
  const { size, mtimeMs, src } = opened;
  try {
    if (!src) return reject(c, 'unreadable', 'is not a regular file');
    const r = await inspect(src, src.head, basename(path), policy);
    const item: Item = {
      source: c.source,
      kind: 'file',
      path,
      order: c.order,
      name: basename(path),
      size,
      mtimeMs: c.mtimeMs ?? mtimeMs,
      format: r.format,
    };
    if (r.width !== undefined) item.width = r.width;
    if (r.height !== undefined) item.height = r.height;
    if (r.zip) {
      item.zipEntries = r.zip.entries;
      item.zipSkipped = r.zip.skipped;
    }
    return { ok: true, item };
  } catch (err) {
    if (err instanceof Problem) return reject(c, err.rule, err.detail, size);
    const code = (err as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return reject(c, 'unreadable', `cannot be read (${code})`, size);
    return reject(c, 'corrupt', `could not be parsed (${(err as Error).message})`, size);
  } finally {
    await opened.close();
  }
}
