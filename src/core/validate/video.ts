/**
 * Container-level checks for video, so a video policy can reject broken files before upload:
 * - ISO BMFF (mp4/mov/m4v): top-level boxes tile the file exactly, and a `moov` box exists
 *   (an `ftyp`-only stub is not a movie).
 * - Matroska/WebM: a well-formed EBML header with a DocType, then a Segment that fits the file.
 * - AVI: RIFF size within the file, chunks inside it, `hdrl` and `movi` lists present.
 * Nothing is demuxed or decoded.
 */
import type { ValidationPolicy } from '../types.js';
import type { Shape } from './limits.js';
import { fail, type ByteSource } from './source.js';

const MAX_BOXES = 1_000_000;
const printable4 = (b: Buffer) => b.length === 4 && b.every((c) => c >= 0x20 && c < 0x7f);

export function isIsoBmff(head: Buffer): boolean {
  return head.length >= 12 && head.toString('latin1', 4, 8) === 'ftyp';
}

export async function checkIsoBmff(src: ByteSource, _policy: ValidationPolicy): Promise<Shape> {
  let pos = 0;
  let moov = false;
  let boxes = 0;
  while (pos < src.size) {
    if (++boxes > MAX_BOXES) fail('corrupt', 'movie has too many top-level boxes');
    if (src.size - pos < 8) fail('corrupt', 'movie is truncated (partial box header)');
    const h = await src.read(pos, 16);
    let size = h.readUInt32BE(0);
    const type = h.subarray(4, 8);
    if (!printable4(type)) fail('corrupt', `movie has an invalid box type at byte ${pos}`);
    if (boxes === 1 && type.toString('latin1') !== 'ftyp' && !['moov', 'mdat', 'wide', 'free', 'skip', 'pnot'].includes(type.toString('latin1'))) {
      fail('corrupt', 'movie does not start with a known box');
    }
    if (size === 1) {
      if (h.length < 16) fail('corrupt', 'movie is truncated (partial box header)');
      const big = h.readBigUInt64BE(8);
      size = big > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(big);
      if (size < 16) fail('corrupt', `movie box '${type.toString('latin1')}' has an invalid size`);
    } else if (size === 0) {
      size = src.size - pos; // extends to the end of the file
    } else if (size < 8) {
      fail('corrupt', `movie box '${type.toString('latin1')}' has an invalid size`);
    }
    if (pos + size > src.size) fail('corrupt', `movie is truncated (box '${type.toString('latin1')}' extends past the end)`);
    if (type.toString('latin1') === 'moov') moov = true;
    pos += size;
  }
  if (!moov) fail('corrupt', "movie has no 'moov' box (no playable content)");
  return {};
}

export function isEbml(head: Buffer): boolean {
  return head.length >= 4 && head.readUInt32BE(0) === 0x1a45dfa3;
}

/** Matroska element ID (kept with its marker bits) and its length in bytes. */
function vintId(b: Buffer, o: number): { id: number; len: number } {
  const first = b[o];
  if (first === undefined) return fail('corrupt', 'Matroska is truncated');
  const len = Math.clz32(first) - 23;
  if (first === 0 || len > 4) return fail('corrupt', 'Matroska has an invalid element ID');
  if (o + len > b.length) return fail('corrupt', 'Matroska is truncated');
  return { id: b.readUIntBE(o, len), len };
}

/** Element data size; `unknown` for the all-ones reserved value. */
function vintSize(b: Buffer, o: number): { size: number; len: number; unknown: boolean } {
  const first = b[o];
  if (first === undefined) return fail('corrupt', 'Matroska is truncated');
  const len = Math.clz32(first) - 23;
  if (first === 0 || len > 8) return fail('corrupt', 'Matroska has an invalid element size');
  if (o + len > b.length) return fail('corrupt', 'Matroska is truncated');
  let v = first & (0xff >> len);
  let allOnes = v === 0xff >> len;
  for (let i = 1; i < len; i++) {
    v = v * 256 + b[o + i]!;
    if (b[o + i] !== 0xff) allOnes = false;
  }
  return { size: v, len, unknown: allOnes };
}

/** DocType of an EBML file from its head ('webm', 'matroska', …), or undefined. */
export function ebmlDocType(head: Buffer): string | undefined {
  try {
    return parseEbmlHeader(head).docType;
  } catch {
    return undefined;
  }
}

function parseEbmlHeader(b: Buffer): { docType?: string; end: number } {
  const id = vintId(b, 0);
  if (id.id !== 0x1a45dfa3) fail('corrupt', 'Matroska has no EBML header');
  const sz = vintSize(b, id.len);
  if (sz.unknown) fail('corrupt', 'Matroska EBML header has an unknown size');
  let o = id.len + sz.len;
  const end = o + sz.size;
  if (end > b.length) fail('corrupt', 'Matroska EBML header is truncated');
  let docType: string | undefined;
  while (o < end) {
    const cid = vintId(b, o);
    const csz = vintSize(b, o + cid.len);
    const data = o + cid.len + csz.len;
    if (csz.unknown || data + csz.size > end) fail('corrupt', 'Matroska EBML header element overflows');
    if (cid.id === 0x4282) docType = b.toString('latin1', data, data + csz.size).replace(/\0+$/, '');
    o = data + csz.size;
  }
  return { docType, end };
}

export async function checkEbml(src: ByteSource, _policy: ValidationPolicy): Promise<Shape> {
  const head = await src.read(0, 4096);
  const { docType, end } = parseEbmlHeader(head);
  if (!docType) fail('corrupt', 'Matroska EBML header has no DocType');
  const seg = await src.read(end, 16);
  const id = vintId(seg, 0);
  if (id.id !== 0x18538067) fail('corrupt', 'Matroska has no Segment after the EBML header');
  const sz = vintSize(seg, id.len);
  const dataStart = end + id.len + sz.len;
  if (!sz.unknown && dataStart + sz.size > src.size) fail('corrupt', 'Matroska is truncated (Segment extends past the end)');
  if (dataStart < src.size) {
    const child = await src.read(dataStart, 16);
    const cid = vintId(child, 0);
    vintSize(child, cid.len);
  }
  return {};
}

export function isAvi(head: Buffer): boolean {
  return head.length >= 12 && head.toString('latin1', 0, 4) === 'RIFF' && head.toString('latin1', 8, 12) === 'AVI ';
}

export async function checkAvi(src: ByteSource, _policy: ValidationPolicy): Promise<Shape> {
  const h = await src.read(0, 12);
  const riffSize = h.readUInt32LE(4);
  if (riffSize < 4 || riffSize + 8 > src.size) fail('corrupt', 'AVI is truncated (RIFF size exceeds the file)');
  const end = riffSize + 8;
  let pos = 12;
  let hdrl = false;
  let movi = false;
  while (pos + 8 <= end) {
    const c = await src.read(pos, 12);
    const id = c.subarray(0, 4);
    const size = c.readUInt32LE(4);
    if (!printable4(id)) fail('corrupt', `AVI has an invalid chunk id at byte ${pos}`);
    if (pos + 8 + size > end) fail('corrupt', 'AVI chunk extends past the RIFF payload');
    if (id.toString('latin1') === 'LIST' && c.length >= 12) {
      const list = c.toString('latin1', 8, 12);
      if (list === 'hdrl') hdrl = true;
      if (list === 'movi') movi = true;
    }
    pos += 8 + size + (size & 1);
  }
  if (!hdrl || !movi) fail('corrupt', "AVI lacks its 'hdrl' or 'movi' list");
  return {};
}
