/**
 * BMP: file header, a known info-header size (OS/2 v1/v2, Windows v3–v5), one plane, a valid
 * bit count and compression, non-zero dimensions within the pixel limit (checked before sizes,
 * so a tiny file declaring gigapixels is a bomb, not just short), and pixel data that fits in
 * the file (computed from the row stride when uncompressed, else the declared image size).
 * Also used for the BMP images inside ICO files (no file header, doubled height).
 */
import type { ValidationPolicy } from '../types.js';
import { checkPixels, type Shape } from './limits.js';
import { fail, type ByteSource } from './source.js';

const HEADER_SIZES = new Set([12, 16, 40, 52, 56, 64, 108, 124]);
const BIT_COUNTS = new Set([1, 2, 4, 8, 16, 24, 32]);

export function isBmp(head: Buffer): boolean {
  return head.length >= 2 && head[0] === 0x42 && head[1] === 0x4d;
}

export interface DibInfo {
  headerSize: number;
  width: number;
  height: number;
  topDown: boolean;
  bitCount: number;
  compression: number;
  imageSize: number;
}

/** Parse a DIB info header (BITMAPCOREHEADER / BITMAPINFOHEADER and successors). */
export function parseDib(h: Buffer, what: string): DibInfo {
  if (h.length < 12) fail('corrupt', `${what} header is truncated`);
  const headerSize = h.readUInt32LE(0);
  if (!HEADER_SIZES.has(headerSize)) fail('corrupt', `${what} has an invalid info-header size ${headerSize}`);
  if (h.length < Math.min(headerSize, 40)) fail('corrupt', `${what} header is truncated`);
  let width: number, height: number, planes: number, bitCount: number;
  let compression = 0;
  let imageSize = 0;
  if (headerSize === 12) {
    width = h.readUInt16LE(4);
    height = h.readUInt16LE(6);
    planes = h.readUInt16LE(8);
    bitCount = h.readUInt16LE(10);
  } else {
    width = h.readInt32LE(4);
    height = h.readInt32LE(8);
    planes = h.readUInt16LE(12);
    bitCount = h.readUInt16LE(14);
    if (headerSize >= 40) {
      compression = h.readUInt32LE(16);
      imageSize = h.readUInt32LE(20);
    }
  }
  if (planes !== 1) fail('corrupt', `${what} has an invalid plane count ${planes}`);
  // Bit count 0 only goes with embedded JPEG/PNG (compression 4/5).
  if (!(BIT_COUNTS.has(bitCount) || (bitCount === 0 && (compression === 4 || compression === 5)))) {
    fail('corrupt', `${what} has an invalid bit count ${bitCount}`);
  }
  if (compression > 6 && !(compression >= 11 && compression <= 13)) fail('corrupt', `${what} has an unknown compression ${compression}`);
  if (width <= 0 || height === 0 || height === -2147483648) fail('corrupt', `${what} has invalid dimensions ${width}×${height}`);
  return { headerSize, width, height: Math.abs(height), topDown: height < 0, bitCount, compression, imageSize };
}

/** Bytes of uncompressed pixel rows, or undefined when compressed. */
export function dibPixelBytes(d: DibInfo, rows = d.height): number | undefined {
  if (d.compression !== 0 && d.compression !== 3 && d.compression !== 6) return undefined;
  return Math.floor((d.width * d.bitCount + 31) / 32) * 4 * rows;
}

export async function checkBmp(src: ByteSource, policy: ValidationPolicy): Promise<Shape> {
  const head = await src.read(0, 14 + 124);
  if (head.length < 26) fail('corrupt', 'BMP is truncated');
  if (!isBmp(head)) fail('corrupt', 'bad BMP signature');
  const dataOffset = head.readUInt32LE(10);
  const dib = parseDib(head.subarray(14), 'BMP');
  checkPixels(dib.width, dib.height, policy);
  if (dataOffset < 14 + dib.headerSize) fail('corrupt', 'BMP pixel data offset points inside its header');
  const need = dibPixelBytes(dib) ?? dib.imageSize;
  if (dataOffset + need > src.size) fail('corrupt', 'BMP is truncated (pixel data extends past the end of the file)');
  return { width: dib.width, height: dib.height };
}
