/**
 * WebP: RIFF header whose size fits the file, then a chunk walk (every chunk inside the RIFF
 * payload) starting with VP8 / VP8L / VP8X; dimensions from the bitstream header or the VP8X
 * canvas (checked against the pixel limit); animation frames (ANMF) counted.
 * Trailing bytes after the RIFF payload are tolerated, like libwebp does.
 */
import type { ValidationPolicy } from '../types.js';
import { checkFrames, checkPixels, type Shape } from './limits.js';
import { Cursor, fail, type ByteSource } from './source.js';

export function isWebp(head: Buffer): boolean {
  return head.length >= 12 && head.toString('latin1', 0, 4) === 'RIFF' && head.toString('latin1', 8, 12) === 'WEBP';
}

function bitstreamSize(type: string, d: Buffer): { width: number; height: number } {
  if (type === 'VP8 ') {
    if (d.length < 10 || d[3] !== 0x9d || d[4] !== 0x01 || d[5] !== 0x2a) fail('corrupt', 'WebP VP8 frame header is invalid');
    return { width: d.readUInt16LE(6) & 0x3fff, height: d.readUInt16LE(8) & 0x3fff };
  }
  if (d.length < 5 || d[0] !== 0x2f) fail('corrupt', 'WebP VP8L header is invalid');
  const bits = d.readUInt32LE(1);
  return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
}

export async function checkWebp(src: ByteSource, policy: ValidationPolicy): Promise<Shape> {
  const cur = new Cursor(src, 'WebP');
  const hdr = await cur.bytes(12);
  if (!isWebp(hdr)) fail('corrupt', 'bad WebP signature');
  const riffSize = hdr.readUInt32LE(4);
  if (riffSize < 4 + 8) fail('corrupt', 'WebP RIFF size is too small');
  if (riffSize + 8 > src.size) fail('corrupt', 'WebP is truncated (RIFF size exceeds the file)');
  const end = riffSize + 8;

  let width = 0;
  let height = 0;
  let frames = 0;
  let first: string | undefined;
  let sawImage = false;
  while (cur.pos + 8 <= end) {
    const ch = await cur.bytes(8);
    const type = ch.toString('latin1', 0, 4);
    const size = ch.readUInt32LE(4);
    const padded = size + (size & 1);
    if (cur.pos + size > end) fail('corrupt', `WebP chunk '${type.trim()}' extends past the RIFF payload`);
    first ??= type;
    if (type === 'VP8X') {
      if (first !== 'VP8X' || size < 10) fail('corrupt', 'WebP VP8X chunk is misplaced or short');
      const d = await cur.bytes(10);
      width = d.readUIntLE(4, 3) + 1;
      height = d.readUIntLE(7, 3) + 1;
      checkPixels(width, height, policy);
      cur.pos += padded - 10;
    } else if (type === 'VP8 ' || type === 'VP8L') {
      const d = await cur.bytes(Math.min(size, 10));
      const dims = bitstreamSize(type, d);
      if (first === type) {
        width = dims.width;
        height = dims.height;
        if (width === 0 || height === 0) fail('corrupt', 'WebP has zero dimensions');
      }
      checkPixels(dims.width, dims.height, policy);
      sawImage = true;
      cur.pos += padded - d.length;
    } else if (type === 'ANMF') {
      frames++;
      checkFrames(frames, policy);
      if (size < 16) fail('corrupt', 'WebP ANMF chunk is too short');
      cur.pos += padded;
      sawImage = true;
    } else {
      cur.pos += padded;
    }
    if (first !== 'VP8X' && first !== 'VP8 ' && first !== 'VP8L') fail('corrupt', `WebP starts with an unexpected '${first.trim()}' chunk`);
    if (cur.pos > end + 1) fail('corrupt', 'WebP chunk extends past the RIFF payload');
  }
  if (!sawImage) fail('corrupt', 'WebP has no image data');
  return frames > 0 ? { width, height, frames } : { width, height };
}
