/**
 * Shared shapes of the pipeline: scan → validate → plan → transfer → poll → manifest.
 * Core never imports CLI libraries; providers and the CLI import from here.
 */

/** Kinds of input: a local file, an http(s) URL, a folder in the provider's storage (`storage://NAME/PATH/`). */
export type InputKind = 'file' | 'url' | 'storage';

/** What scan found: a file on disk, a URL or a storage folder. Nothing is read yet beyond stat. */
export interface Candidate {
  /** Absolute file path, URL or storage URI, exactly as it will appear in the manifest. */
  source: string;
  kind: InputKind;
  /** Absolute path (kind === 'file'). */
  path?: string;
  /** URL (kind === 'url'). */
  url?: string;
  /** Bytes on disk (kind === 'file'). */
  size?: number;
  mtimeMs?: number;
  /** Position in the stable scan order. */
  order: number;
}

/** An image inside an accepted ZIP: each becomes its own manifest entry. */
export interface ZipImageEntry {
  /** Path inside the archive, '/'-separated, never absolute, never containing '..'. */
  path: string;
  /** Uncompressed bytes. */
  size: number;
  /** Detected format (lower-case extension family: jpg, png, …). */
  format: string;
}

/** A candidate that passed validation and can be planned. */
export interface Item {
  source: string;
  kind: InputKind;
  path?: string;
  url?: string;
  order: number;
  /** Remote name (image_name): file name, or from a naming template. */
  name: string;
  /** Bytes; unknown (undefined) for URLs until the server fetches them. */
  size?: number;
  mtimeMs?: number;
  /** Detected format, e.g. 'jpg', 'png', 'svg', 'zip'. Undefined for URLs (not fetched). */
  format?: string;
  /** sha256 hex of the content, computed while the bytes stream (filled by transfer). */
  sha256?: string;
  /** Accepted images inside a ZIP (format === 'zip'). */
  zipEntries?: ZipImageEntry[];
  /** Entries of a ZIP that were skipped (not images, junk like __MACOSX), with why. */
  zipSkipped?: { path: string; reason: string }[];
  /** How many times this source was put in a batch before (salts derived batch ids). */
  generation?: number;
  /** Image dimensions, when the header gave them. */
  width?: number;
  height?: number;
  /** What a provider that expands its own inputs carries to its batch (e.g. a render spec's body). */
  payload?: unknown;
}

/** Stable rule identifiers for rejections; the manifest and tests key on them. */
export type RejectRule =
  | 'empty-file'
  | 'too-large'
  | 'unsupported-type'
  | 'disguised'
  | 'corrupt'
  | 'image-bomb'
  | 'unsafe-svg'
  | 'unsafe-zip'
  | 'zip-bomb'
  | 'encrypted-zip'
  | 'nested-zip'
  | 'empty-zip'
  | 'unreadable'
  | 'bad-url'
  /** A URL that cannot be fetched (refused, unknown host, HTTP 404, …): checked before it is submitted. */
  | 'unreachable'
  /** The remote name cannot be used by the provider (too long, a path separator, …). */
  | 'bad-name'
  /** Another input of the same run already has this remote name (it would be replaced). */
  | 'duplicate-name'
  /** An image that must be square is not (blurb artwork): `not-square 1000×800`. */
  | 'not-square'
  /** A job description (a blurb render spec) breaks the API's rules for its fields. */
  | 'invalid-spec';

export interface Rejection {
  source: string;
  rule: RejectRule;
  /** A sentence naming the file and the rule, e.g. "photo.jpg: content is PDF, not JPEG (disguised)". */
  message: string;
  size?: number;
  mtimeMs?: number;
}

export type ValidationResult = { ok: true; item: Item } | { ok: false; rejection: Rejection };

/** What a provider accepts; validation is driven entirely by this. */
export interface ValidationPolicy {
  /** Allowed formats (canonical names: jpg, png, gif, bmp, webp, svg, ico, tiff, zip, mp4, …). */
  formats: ReadonlySet<string>;
  /** Allowed file extensions (lower-case, no dot) → canonical format they must contain. */
  extensions: ReadonlyMap<string, string>;
  /** Max bytes of one file (for ZIPs: of each image entry). */
  maxFileSize: number;
  /** Max pixels (width × height) from the header; image bombs above it. */
  maxPixels: number;
  /** Max animation frames (GIF/APNG/WebP) before it is an image bomb. */
  maxFrames: number;
  zip: {
    maxEntries: number;
    maxTotalUncompressed: number;
    /** Max uncompressed/compressed ratio of one entry (zip-bomb guard). */
    maxRatio: number;
    /** Entries smaller than this (uncompressed) are exempt from the ratio check. Default 1 MiB. */
    ratioMinBytes?: number;
    /** Max bytes of the ZIP file itself. Default: maxFileSize. */
    maxArchiveSize?: number;
  };
}
