/**
 * Dimensions of a PNG or JPEG from its first bytes (a ranged GET of an artwork URL): the PNG
 * IHDR, or the first JPEG frame header (SOFn) after any EXIF/ICC segments. The whole-file
 * structure checks (core/validate png.ts, jpeg.ts) need every byte; this needs only the head.
 */

export type HeadSize = { width: number; height: number } | { more: number } | undefined;

const isSof = (m: number) => m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;

/**
 * `{width, height}`; `{more: n}` when the header lies beyond the bytes given (ask for n); or
 * undefined when the bytes do not hold a readable header.
 */
export function imageSize(head: Buffer, format: string): HeadSize {
  if (format === 'png') {
    if (head.length < 24 || head.toString('latin1', 12, 16) !== 'IHDR') return undefined;
    return { width: head.readUInt32BE(16), height: head.readUInt32BE(20) };
  }
  if (format !== 'jpg') return undefined;
  let i = 2;
  while (i + 4 <= head.length) {
    if (head[i] !== 0xff) return undefined;
    const marker = head[i + 1]!;
    if (marker === 0xff) {
      i++;
      continue;
    }
    if ((marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      i += 2;
      continue;
    }
    if (marker === 0xd9 || marker === 0xda) return undefined;
    const len = head.readUInt16BE(i + 2);
    if (isSof(marker)) {
      if (i + 9 > head.length) return { more: i + 9 };
      return { width: head.readUInt16BE(i + 7), height: head.readUInt16BE(i + 5) };
    }
    i += 2 + len;
  }
  return { more: i + 4 };
}
