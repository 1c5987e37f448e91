/**
 * Canonical format names and the extension knowledge validation needs that does not depend on
 * any provider: which extensions name which format (so `photo.jpeg` means jpg and `clip.m4v`
 * means mp4), which formats are interchangeable, and which names mean "archive".
 * Provider policies decide what is *allowed*; this file only says what things *are*.
 */

/** Extension (lower-case, no dot) → canonical format, for extensions that are not their own name. */
const EXT_ALIASES: Readonly<Record<string, string>> = {
  jpeg: 'jpg',
  jpe: 'jpg',
  jfif: 'jpg',
  pjpeg: 'jpg',
  pjp: 'jpg',
  apng: 'png',
  dib: 'bmp',
  tif: 'tiff',
  m4v: 'mp4',
  m4p: 'mp4',
  f4v: 'mp4',
  qt: 'mov',
  oga: 'ogg',
  ogv: 'ogg',
  htm: 'html',
  xhtml: 'html',
  yml: 'yaml',
  heif: 'heic',
};

/** Extensions we know the content signature of, so a mismatch is evidence of disguise. */
const KNOWN_EXT = new Set([
  'jpg',
  'png',
  'gif',
  'bmp',
  'webp',
  'svg',
  'ico',
  'cur',
  'tiff',
  'avif',
  'heic',
  'jxl',
  'psd',
  'mp4',
  'mov',
  'webm',
  'mkv',
  'avi',
  'flv',
  'mpg',
  '3gp',
  'ogg',
  'wav',
  'mp3',
  'flac',
  'zip',
  '7z',
  'rar',
  'gz',
  'tar',
  'bz2',
  'xz',
  'zst',
  'pdf',
  'ps',
  'eps',
  'exe',
  'elf',
  'djvu',
  'swf',
]);

/** file-type's `ext` → canonical format (only where they differ). */
const FILE_TYPE_ALIASES: Readonly<Record<string, string>> = {
  apng: 'png',
  tif: 'tiff',
  m4v: 'mp4',
  f4v: 'mp4',
  qt: 'mov',
  jpe: 'jpg',
};

/** Formats that may legitimately wear each other's extension (same container family). */
const FAMILIES: readonly (readonly string[])[] = [['mp4', 'mov']];

/** Archive-like extensions: an entry with one of these inside a ZIP is a nested archive. */
export const ARCHIVE_EXTENSIONS: ReadonlySet<string> = new Set([
  'zip',
  'zipx',
  'jar',
  'war',
  'ear',
  'apk',
  'aar',
  'xpi',
  'ipa',
  'nupkg',
  'whl',
  'crx',
  '7z',
  'rar',
  'rar4',
  'rar5',
  'r00',
  'tar',
  'tgz',
  'tbz',
  'tbz2',
  'txz',
  'tzst',
  'gz',
  'gzip',
  'bz2',
  'xz',
  'lz',
  'lzma',
  'lz4',
  'lzh',
  'lha',
  'zst',
  'z',
  'cab',
  'arj',
  'ace',
  'cpio',
  'rpm',
  'deb',
  'a',
  'ar',
  'iso',
  'dmg',
  'img',
  'vhd',
  'vhdx',
  'wim',
  'squashfs',
  'sz',
  'br',
]);

/** Canonical formats (after {@link canonicalFromFileType}) that are archives by content. */
export const ARCHIVE_FORMATS: ReadonlySet<string> = new Set([
  'zip',
  '7z',
  'rar',
  'tar',
  'gz',
  'bz2',
  'xz',
  'lz',
  'lzma',
  'lz4',
  'lzh',
  'zst',
  'Z',
  'cab',
  'arj',
  'ace',
  'cpio',
  'rpm',
  'deb',
  'ar',
  'iso',
  'dmg',
  'xar',
  'squashfs',
  'vhd',
  'vhdx',
  'wim',
  'jar',
  'apk',
  'xpi',
  'crx',
  'zipx',
]);

/** ZIP-based document/package formats: a ZIP by structure, but honestly another type by name. */
export const ZIP_CONTAINERS: ReadonlySet<string> = new Set([
  'docx',
  'xlsx',
  'pptx',
  'odt',
  'ods',
  'odp',
  'odg',
  'epub',
  'jar',
  'apk',
  'xpi',
  'ipa',
  'aar',
  'vsdx',
  '3mf',
  'kmz',
  'key',
  'numbers',
  'pages',
  'sketch',
  'whl',
  'nupkg',
  'war',
  'ear',
  'idml',
]);

/**
 * Lower-case extension of a file name or '/'-separated path, without the dot ('' when there is
 * none). A backslash is not a separator here (in a ZIP entry it may be half of a CP932 character).
 */
export function extensionOf(name: string): string {
  const base = name.slice(name.lastIndexOf('/') + 1);
  const dot = base.lastIndexOf('.');
  return dot <= 0 ? '' : base.slice(dot + 1).toLowerCase();
}

/** The canonical format an extension claims ('' → undefined). */
export function formatOfExtension(ext: string): string | undefined {
  if (!ext) return undefined;
  return EXT_ALIASES[ext] ?? ext;
}

/** A policy's `extensions`: each allowed extension → the canonical format it names, in the order given. */
export function extensionMap(allowed: readonly string[]): Map<string, string> {
  return new Map(allowed.map((ext) => [ext, formatOfExtension(ext) ?? ext]));
}

/** Whether a mismatch between this extension and the content is meaningful evidence of disguise. */
export function isKnownExtension(ext: string): boolean {
  const f = formatOfExtension(ext);
  return f !== undefined && (KNOWN_EXT.has(f) || ZIP_CONTAINERS.has(f));
}

export function canonicalFromFileType(ext: string): string {
  return FILE_TYPE_ALIASES[ext] ?? ext;
}

/**
 * What file-type makes of these bytes, as a canonical format (undefined: unknown or unreadable).
 * The package (~130 KB with its parsers) is loaded on first use: formats we check ourselves (PNG,
 * JPEG, GIF…) never need it, and loading it cost every run ~30 ms of start-up.
 */
export async function fileTypeOf(head: Uint8Array): Promise<string | undefined> {
  const { fileTypeFromBuffer } = await import('file-type');
  try {
    const ft = await fileTypeFromBuffer(head);
    return ft ? canonicalFromFileType(ft.ext) : undefined;
  } catch {
    return undefined;
  }
}

/** True when `actual` content may carry an extension claiming `claimed`. */
export function sameFormat(claimed: string, actual: string): boolean {
  if (claimed === actual) return true;
  if (actual === 'zip' && ZIP_CONTAINERS.has(claimed)) return true;
  return FAMILIES.some((fam) => fam.includes(claimed) && fam.includes(actual));
}

/** How a format is named in messages: "JPG", "PNG", "PDF", "text". */
export function formatLabel(format: string): string {
  return format === 'text' ? 'text' : format.toUpperCase();
}
