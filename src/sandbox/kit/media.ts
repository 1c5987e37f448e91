/** Extensions from content types and a small magic-number sniffer, for naming objects. */

const EXT_BY_TYPE: Record<string, string> = {
  'image/jpeg': 'jpg',
  'image/png': 'png',
  'image/gif': 'gif',
  'image/bmp': 'bmp',
  'image/webp': 'webp',
  'image/svg+xml': 'svg',
  'image/x-icon': 'ico',
  'image/vnd.microsoft.icon': 'ico',
  'image/tiff': 'tiff',
};

/** An image extension for a Content-Type header value, if it names an image type we know. */
export function extFromContentType(ct: string | undefined): string | undefined {
  if (!ct) return undefined;
  return EXT_BY_TYPE[ct.split(';')[0]!.trim().toLowerCase()];
}

/** Extension guessed from the first bytes of a file, or undefined. */
export function sniffExt(head: Buffer): string | undefined {
  const at = (i: number, ...bytes: number[]) => bytes.every((b, k) => head[i + k] === b);
  if (at(0, 0x89, 0x50, 0x4e, 0x47)) return 'png';
  if (at(0, 0xff, 0xd8, 0xff)) return 'jpg';
  if (at(0, 0x47, 0x49, 0x46, 0x38)) return 'gif';
  if (at(0, 0x52, 0x49, 0x46, 0x46) && at(8, 0x57, 0x45, 0x42, 0x50)) return 'webp';
  if (at(0, 0x49, 0x49, 0x2a, 0x00) || at(0, 0x4d, 0x4d, 0x00, 0x2a)) return 'tiff';
  if (at(0, 0x00, 0x00, 0x01, 0x00)) return 'ico';
  if (at(0, 0x42, 0x4d)) return 'bmp';
  if (at(0, 0x50, 0x4b, 0x03, 0x04)) return 'zip';
  const text = head.toString('latin1').trimStart();
  if (text.startsWith('<svg') || (text.startsWith('<?xml') && text.includes('<svg'))) return 'svg';
  return undefined;
}
