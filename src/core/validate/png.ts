/**
 * PNG: signature, IHDR first (Apple's CgBI "crushed" variant is rejected: libpng and browsers
 * cannot read it), every chunk inside the file with a valid CRC, IDAT present, IEND reached.
 * Compressed text (zTXt/iTXt) is inflated with a cap, because a tiny file can carry gigabytes of
 * text (a decompression bomb for anything that reads metadata). APNG frame count from acTL.
 * Pixel data is never decoded; trailing bytes after IEND are tolerated, as by every decoder.
 */
import { crc32, inflateSync } from 'node:zlib';
import type { ValidationPolicy } from '../types.js';
import { checkFrames, checkPixels, type Shape } from './limits.js';
import { Cursor, fail, type ByteSource } from './source.js';

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** Most text one compressed chunk may inflate to (Pillow's MAX_TEXT_CHUNK is the same 1 MiB). */
export const PNG_TEXT_CHUNK_MAX = 1024 * 1024;
/** Most inflated text in one file. */
export const PNG_TEXT_TOTAL_MAX = 8 * 1024 * 1024;

const VALID_DEPTHS: Record<number, number[]> = {
  0: [1, 2, 4, 8, 16],
  2: [8, 16],
  3: [1, 2, 4, 8],
  4: [8, 16],
  6: [8, 16],
};

export function isPng(head: Buffer): boolean {
  return head.length >= 8 && head.subarray(0, 8).equals(SIGNATURE);
}

const isChunkType = (t: Buffer) => t.every((c) => (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a));

function inflateText(data: Buffer, type: string, budget: { left: number }): void {
  const cap = Math.min(PNG_TEXT_CHUNK_MAX, budget.left);
  let out: Buffer;
  try {
    out = inflateSync(data, { maxOutputLength: cap + 1 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError) {
      return fail('image-bomb', `compressed ${type} text inflates past ${(cap / 1024 / 1024).toFixed(0)} MiB`);
    }
    return fail('corrupt', `compressed ${type} text is not valid zlib data`);
  }
  if (out.length > cap) fail('image-bomb', `compressed ${type} text inflates past ${(cap / 1024 / 1024).toFixed(0)} MiB`);
  budget.left -= out.length;
}

function compressedText(type: string, data: Buffer): Buffer | undefined {
  const nul = data.indexOf(0);
  if (nul < 0) return fail('corrupt', `${type} chunk has no keyword terminator`);
  if (type === 'zTXt') return data.subarray(nul + 2);
  // iTXt: keyword \0 flag method lang \0 translated \0 text
  const flag = data[nul + 1];
  if (flag !== 1) return undefined;
  const lang = data.indexOf(0, nul + 3);
  const trans = lang < 0 ? -1 : data.indexOf(0, lang + 1);
  if (trans < 0) return fail('corrupt', 'iTXt chunk is malformed');
  return data.subarray(trans + 1);
}

export async function checkPng(src: ByteSource, policy: ValidationPolicy): Promise<Shape> {
  const cur = new Cursor(src, 'PNG');
  if (!(await cur.bytes(8)).equals(SIGNATURE)) fail('corrupt', 'bad PNG signature');

  let width = 0;
  let height = 0;
  let frames = 1;
  let index = 0;
  let sawIdat = false;
  const budget = { left: PNG_TEXT_TOTAL_MAX };

  for (;;) {
    if (cur.remaining < 12) fail('corrupt', sawIdat ? 'PNG is truncated (no IEND chunk)' : 'PNG is truncated');
    const len = await cur.u32be();
    const typeBuf = Buffer.from(await cur.bytes(4));
    const type = typeBuf.toString('latin1');
    if (!isChunkType(typeBuf)) fail('corrupt', `PNG has an invalid chunk type at byte ${cur.pos - 4}`);
    if (len > 0x7fffffff) fail('corrupt', `PNG chunk ${type} has an invalid length`);
    if (len + 4 > cur.remaining) fail('corrupt', `PNG is truncated (inside chunk ${type})`);

    if (index === 0) {
      if (type === 'CgBI') fail('corrupt', "Apple CgBI ('crushed') PNG, not a standard PNG");
      if (type !== 'IHDR' || len !== 13) fail('corrupt', 'PNG does not start with an IHDR chunk');
    }

    // Chunks we look inside are small (or capped); everything else is only CRC'd piecewise.
    const inspect = type === 'IHDR' || type === 'acTL' || type === 'zTXt' || type === 'iTXt';
    let crc = crc32(typeBuf);
    let data: Buffer | undefined;
    if (inspect) {
      data = Buffer.from(await cur.bytes(len));
      crc = crc32(data, crc);
    } else {
      await cur.forEachPiece(len, (piece) => {
        crc = crc32(piece, crc);
      });
    }
    const stored = await cur.u32be();
    if (crc >>> 0 !== stored) fail('corrupt', `PNG chunk ${type} has a bad CRC`);

    if (type === 'IHDR' && data) {
      if (index !== 0) fail('corrupt', 'PNG has more than one IHDR chunk');
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      const depth = data[8]!;
      const color = data[9]!;
      if (width === 0 || height === 0 || width > 0x7fffffff || height > 0x7fffffff) {
        fail('corrupt', `PNG has invalid dimensions ${width}×${height}`);
      }
      if (!VALID_DEPTHS[color]?.includes(depth)) fail('corrupt', `PNG has an invalid bit depth ${depth} for color type ${color}`);
      if (data[10] !== 0 || data[11] !== 0 || data[12]! > 1) fail('corrupt', 'PNG IHDR has an invalid method byte');
      checkPixels(width, height, policy);
    } else if (type === 'acTL' && data && len >= 8) {
      frames = data.readUInt32BE(0);
      checkFrames(frames, policy);
    } else if ((type === 'zTXt' || type === 'iTXt') && data) {
      const z = compressedText(type, data);
      if (z) inflateText(z, type, budget);
    } else if (type === 'IDAT') {
      sawIdat = true;
    } else if (type === 'IEND') {
      if (!sawIdat) fail('corrupt', 'PNG has no image data (IDAT)');
      break;
    }
    index++;
  }
  return { width, height, frames };
}
