/**
 * TIFF (classic and BigTIFF): header, then the IFD chain (no loops, every IFD inside the file),
 * no tag listed twice (fuzzed crashers do that; unsorted tags are tolerated, as libtiff
 * does), every out-of-line tag value inside the file, strip/tile offsets + byte counts
 * inside the file, and each page's dimensions within the pixel limit. Pages count as frames.
 * Pixel data is not decompressed.
 */
import type { ValidationPolicy } from '../types.js';
import { checkFrames, checkPixels, type Shape } from './limits.js';
import { fail, type ByteSource } from './source.js';

const TYPE_SIZES: Record<number, number> = {
  1: 1,
  2: 1,
  3: 2,
  4: 4,
  5: 8,
  6: 1,
  7: 1,
  8: 2,
  9: 4,
  10: 8,
  11: 4,
  12: 8,
  13: 4,
  16: 8,
  17: 8,
  18: 8,
};
/** Most strip/tile entries we read back to bounds-check (larger arrays are only range-checked). */
const MAX_CHECKED_BLOCKS = 65536;

export function isTiff(head: Buffer): boolean {
  if (head.length < 4) return false;
  const bo = head.toString('latin1', 0, 2);
  if (bo === 'II') return head[2] === 0x2a || head[2] === 0x2b ? head[3] === 0 : false;
  if (bo === 'MM') return head[2] === 0 && (head[3] === 0x2a || head[3] === 0x2b);
  return false;
}

interface Entry {
  tag: number;
  type: number;
  count: number;
  /** Where the value bytes are (inline position or the pointed-to offset). */
  at: number;
  size: number;
}

export async function checkTiff(src: ByteSource, policy: ValidationPolicy): Promise<Shape> {
  const hdr = await src.read(0, 16);
  if (hdr.length < 8 || !isTiff(hdr)) fail('corrupt', 'bad TIFF header');
  const le = hdr[0] === 0x49;
  const u16 = (b: Buffer, o: number) => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
  const u32 = (b: Buffer, o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const u64 = (b: Buffer, o: number) => {
    const v = le ? b.readBigUInt64LE(o) : b.readBigUInt64BE(o);
    return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v);
  };
  const big = u16(hdr, 2) === 43;
  if (big && (hdr.length < 16 || u16(hdr, 4) !== 8 || u16(hdr, 6) !== 0)) fail('corrupt', 'bad BigTIFF header');
  const headerSize = big ? 16 : 8;
  const entrySize = big ? 20 : 12;
  const inline = big ? 8 : 4;
  let ifd = big ? u64(hdr, 8) : u32(hdr, 4);

  const readValues = async (e: Entry, limit: number): Promise<number[]> => {
    const n = Math.min(e.count, limit);
    const isShort = e.type === 3;
    const isLong8 = e.type === 16;
    const width = isShort ? 2 : isLong8 ? 8 : 4;
    const buf = await src.read(e.at, n * width);
    const out: number[] = [];
    for (let i = 0; i < n; i++) out.push(isShort ? u16(buf, i * 2) : isLong8 ? u64(buf, i * 8) : u32(buf, i * 4));
    return out;
  };

  const seen = new Set<number>();
  let first: Shape | undefined;
  let pages = 0;
  while (ifd !== 0) {
    if (seen.has(ifd)) fail('corrupt', 'TIFF directory chain loops');
    seen.add(ifd);
    pages++;
    checkFrames(pages, policy);
    if (ifd < headerSize || ifd >= src.size) fail('corrupt', 'TIFF directory offset points outside the file');
    const cntBuf = await src.read(ifd, big ? 8 : 2);
    if (cntBuf.length < (big ? 8 : 2)) fail('corrupt', 'TIFF is truncated (directory)');
    const count = big ? u64(cntBuf, 0) : u16(cntBuf, 0);
    const start = ifd + (big ? 8 : 2);
    if (count === 0) fail('corrupt', 'TIFF directory is empty');
    if (start + count * entrySize + (big ? 8 : 4) > src.size) fail('corrupt', 'TIFF is truncated (directory extends past the end of the file)');
    const raw = await src.read(start, count * entrySize + (big ? 8 : 4));

    const tags = new Map<number, Entry>();
    const seenTags = new Set<number>();
    for (let i = 0; i < count; i++) {
      const o = i * entrySize;
      const tag = u16(raw, o);
      const type = u16(raw, o + 2);
      const n = big ? u64(raw, o + 4) : u32(raw, o + 4);
      if (seenTags.has(tag)) fail('corrupt', `TIFF directory lists tag ${tag} twice`);
      seenTags.add(tag);
      const unit = TYPE_SIZES[type];
      if (unit === undefined) continue; // unknown types are skipped, as the spec says
      const size = n * unit;
      const valueAt = start + o + (big ? 12 : 8);
      let at = valueAt;
      if (size > inline) {
        at = big ? u64(raw, o + 12) : u32(raw, o + 8);
        if (at + size > src.size) fail('corrupt', `TIFF tag ${tag} data lies outside the file`);
      }
      tags.set(tag, { tag, type, count: n, at, size });
    }
    const next = big ? u64(raw, count * entrySize) : u32(raw, count * entrySize);

    const dim = async (tag: number) => {
      const e = tags.get(tag);
      if (!e || e.count < 1 || ![3, 4, 16].includes(e.type)) return undefined;
      return (await readValues(e, 1))[0];
    };
    const width = await dim(256);
    const height = await dim(257);
    if (width === undefined || height === undefined || width === 0 || height === 0) {
      fail('corrupt', `TIFF page ${pages} has no valid image width/length`);
    }
    checkPixels(width!, height!, policy, pages > 1 ? `page ${pages}` : 'image');
    first ??= { width: width!, height: height! };

    for (const [offTag, cntTag, what] of [
      [273, 279, 'strip'],
      [324, 325, 'tile'],
    ] as const) {
      const offs = tags.get(offTag);
      const cnts = tags.get(cntTag);
      if (!offs && !cnts) continue;
      if (!offs || !cnts || offs.count !== cnts.count) fail('corrupt', `TIFF ${what} offsets and byte counts do not match`);
      const a = await readValues(offs!, MAX_CHECKED_BLOCKS);
      const b = await readValues(cnts!, MAX_CHECKED_BLOCKS);
      for (let i = 0; i < a.length; i++) {
        if (a[i]! + b[i]! > src.size) fail('corrupt', `TIFF ${what} ${i} lies outside the file`);
      }
    }
    if (!tags.has(273) && !tags.has(324)) fail('corrupt', `TIFF page ${pages} has no image data`);
    ifd = next;
  }
  if (!first) fail('corrupt', 'TIFF has no image directory');
  return pages > 1 ? { ...first!, frames: pages } : first!;
}
