/**
 * ICO/CUR: header, a directory that fits, every image inside the file, and each embedded image
 * checked by what it really is: a PNG gets the full PNG check; a BMP (DIB without file header,
 * height doubled for the AND mask) gets a header check. Dimensions come from the embedded
 * image, not the directory (the directory is only a hint and often disagrees), so a 16×16 entry
 * hiding a 65535×65535 DIB is an image bomb.
 */
import type { ValidationPolicy } from '../types.js';
import { dibPixelBytes, parseDib } from './bmp.js';
import { checkPixels, type Shape } from './limits.js';
import { checkPng, isPng } from './png.js';
import { fail, SliceSource, type ByteSource } from './source.js';

const MAX_ICONS = 256;

export function isIco(head: Buffer): boolean {
  return head.length >= 6 && head.readUInt16LE(0) === 0 && (head.readUInt16LE(2) === 1 || head.readUInt16LE(2) === 2) && head.readUInt16LE(4) > 0;
}

export async function checkIco(src: ByteSource, policy: ValidationPolicy): Promise<Shape> {
  const hdr = await src.read(0, 6);
  if (hdr.length < 6 || !isIco(hdr)) fail('corrupt', 'bad ICO header');
  const count = hdr.readUInt16LE(4);
  if (count > MAX_ICONS) fail('corrupt', `ICO directory lists ${count} images`);
  const dirEnd = 6 + 16 * count;
  if (dirEnd > src.size) fail('corrupt', 'ICO is truncated (directory extends past the end of the file)');
  const dir = await src.read(6, 16 * count);

  let best: Shape = {};
  for (let i = 0; i < count; i++) {
    const e = dir.subarray(i * 16, i * 16 + 16);
    const bytes = e.readUInt32LE(8);
    const offset = e.readUInt32LE(12);
    const what = count > 1 ? `icon ${i + 1}` : 'icon';
    if (bytes < 12) fail('corrupt', `ICO ${what} has an invalid size`);
    if (offset < dirEnd || offset + bytes > src.size) fail('corrupt', `ICO ${what} data lies outside the file`);
    const head = await src.read(offset, 124);
    let width: number;
    let height: number;
    if (isPng(head)) {
      const shape = await checkPng(new SliceSource(src, offset, bytes), policy);
      width = shape.width ?? 0;
      height = shape.height ?? 0;
    } else {
      const dib = parseDib(head, `ICO ${what}`);
      width = dib.width;
      height = Math.max(1, Math.floor(dib.height / 2));
      checkPixels(width, height, policy, what);
      const pixels = dibPixelBytes(dib, height);
      if (pixels !== undefined && dib.headerSize + pixels > bytes) fail('corrupt', `ICO ${what} pixel data is truncated`);
    }
    if (!best.width || width * height > best.width * (best.height ?? 0)) best = { width, height };
  }
  return best;
}
