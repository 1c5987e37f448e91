/**
 * JPEG: SOI, then a marker walk (every segment inside the file) up to the first SOS, with a
 * frame header (SOFn) giving non-zero dimensions on the way; then an EOI marker must appear
 * after the scan data. Trailing bytes after EOI (camera trailers, the video of a motion photo,
 * a newline) are tolerated; a file that stops inside its scan data (no EOI) is truncated.
 * Segment contents (EXIF, ICC, …) are not parsed: broken EXIF does not stop decoders either.
 */
import type { ValidationPolicy } from '../types.js';
import { checkPixels, type Shape } from './limits.js';
import { Cursor, fail, type ByteSource } from './source.js';

const TAIL = 64 * 1024;

export function isJpeg(head: Buffer): boolean {
  return head.length >= 3 && head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff;
}

const isSof = (m: number) => m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;

export async function checkJpeg(src: ByteSource, policy: ValidationPolicy): Promise<Shape> {
  const cur = new Cursor(src, 'JPEG', 0, 64 * 1024);
  const soi = await cur.bytes(2);
  if (soi[0] !== 0xff || soi[1] !== 0xd8) fail('corrupt', 'JPEG does not start with SOI');

  let width = 0;
  let height = 0;
  let sawSof = false;
  for (;;) {
    let b = await cur.u8();
    if (b !== 0xff) fail('corrupt', `JPEG has garbage where a marker was expected (byte ${cur.pos - 1})`);
    // Any number of 0xFF fill bytes may precede a marker.
    while (b === 0xff) b = await cur.u8();
    const marker = b;
    if (marker === 0x00) fail('corrupt', 'JPEG has an invalid marker 0xFF00');
    if (marker === 0xd8) fail('corrupt', 'JPEG has a second SOI before any image data');
    if (marker === 0xd9) fail('corrupt', 'JPEG ends (EOI) before any image data');
    if ((marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) continue; // standalone markers
    const len = (await cur.bytes(2)).readUInt16BE(0);
    if (len < 2) fail('corrupt', `JPEG segment 0xFF${marker.toString(16).toUpperCase()} has an invalid length`);
    if (len - 2 > cur.remaining) fail('corrupt', 'JPEG is truncated (inside a header segment)');
    if (isSof(marker)) {
      if (len < 8) fail('corrupt', 'JPEG frame header is too short');
      const sof = await cur.bytes(len - 2);
      height = sof.readUInt16BE(1);
      width = sof.readUInt16BE(3);
      const comps = sof[5]!;
      if (width === 0) fail('corrupt', 'JPEG frame header has zero width');
      if (comps < 1 || comps > 4 || len < 8 + 3 * comps) fail('corrupt', 'JPEG frame header has an invalid component count');
      // Height 0 means "defined later by DNL": legal but rare; then only width is known.
      checkPixels(width, height, policy);
      sawSof = true;
    } else if (marker === 0xda) {
      if (!sawSof) fail('corrupt', 'JPEG scan starts before any frame header');
      cur.skip(len - 2);
      break;
    } else {
      cur.skip(len - 2);
    }
  }

  // Scan data follows; an EOI (FF D9) can only appear as a marker there, never as data (0xFF in
  // entropy-coded data is always followed by 0x00 or a marker). Fast path: the last 64 KiB.
  // Otherwise (a large trailer such as the video of a "motion photo") scan forward from SOS.
  const scanStart = cur.pos;
  const tailStart = Math.max(scanStart, src.size - TAIL);
  if (!hasEoi(await src.read(tailStart, src.size - tailStart)) && !(await scanForEoi(src, scanStart, tailStart + 1))) {
    fail('corrupt', 'JPEG is truncated (no end-of-image marker)');
  }
  return height > 0 ? { width, height } : { width };
}

function hasEoi(b: Buffer, from = 0): boolean {
  for (let i = b.indexOf(0xff, from); i >= 0 && i + 1 < b.length; i = b.indexOf(0xff, i + 1)) {
    if (b[i + 1] === 0xd9) return true;
  }
  return false;
}

/** Look for FF D9 in [start, end) (the range the tail check did not cover). */
async function scanForEoi(src: ByteSource, start: number, end: number): Promise<boolean> {
  const step = 256 * 1024;
  for (let pos = start; pos < end; pos += step) {
    // One byte of overlap so a marker split across reads is seen.
    if (hasEoi(await src.read(pos, Math.min(step + 1, end + 1 - pos)))) return true;
  }
  return false;
}
