/**
 * The bach wire contract (seed 000, protocols/bach.md), shared by the client adapter and the
 * sandbox so both speak exactly the same limits and messages. Every **ASSUMED** choice of the
 * contract lives in this file and nowhere else.
 */

export const BACH_DEFAULT_ENDPOINT = 'https://api-gen-na.bach.art/api/vdr';

export const PATHS = {
  submitWithFiles: '/batch-upload/submit-with-files',
  submit: '/batch-upload/submit',
  status: (batchId: string) => `/batch-upload/status/${encodeURIComponent(batchId)}`,
} as const;

export const LIMITS = {
  minFiles: 1,
  maxFiles: 300,
  /**
   * 10 MB, as the vendor counts it: 10 × 1024 × 1024. ASSUMED: applies to every `files` entry
   * (ZIP archives included), to each ZIP entry, to decoded Base64 and to URL downloads.
   */
  maxFileSize: 10 * 1024 * 1024,
  /** The vendor recommends the sync path below 50 images or 10 ZIP files. */
  syncMaxImages: 50,
  syncMaxZips: 10,
  /** Sync connections may stay open at most this long. */
  syncTimeoutMs: 3_600_000,
  /** CDN URLs stay valid this long. */
  urlTtlMs: 30 * 24 * 3600 * 1000,
} as const;

export const ALLOWED_EXTENSIONS = ['jpg', 'jpeg', 'png', 'gif', 'bmp', 'webp', 'svg', 'ico', 'tiff', 'tif', 'zip'] as const;

export const STATUS = {
  pending: 'TASK_PENDING',
  processing: 'TASK_PROCESSING',
  succeeded: 'TASK_SUCCEEDED',
  failed: 'TASK_FAILED',
} as const;

export const CODES = {
  /** Success envelopes use 200; other pages of the vendor use 0. Both are success. */
  success: [0, 200] as readonly number[],
  validation: 1000,
  /** ASSUMED: the code of a missing/invalid token. */
  unauthorized: 1001,
  batchNotFound: 1203,
} as const;

/** 1st, 2nd, 3rd, 4th, … 11th, 12th, 13th, 21st, 22nd, … */
export function ordinal(n: number): string {
  const mod100 = n % 100;
  if (mod100 >= 11 && mod100 <= 13) return `${n}th`;
  switch (n % 10) {
    case 1:
      return `${n}st`;
    case 2:
      return `${n}nd`;
    case 3:
      return `${n}rd`;
    default:
      return `${n}th`;
  }
}

const mb = (bytes: number) => (bytes / (1024 * 1024)).toFixed(2);

export const MESSAGES = {
  success: 'success',
  submitted: 'Batch file upload task submitted, please use batch id to query upload progress.',
  emptyList: 'The upload file list cannot be empty.',
  /** ASSUMED text. */
  tooMany: 'The number of files exceeds the maximum limit of 300.',
  namesMismatch: 'The length of imageNames array must match the length of files array.',
  /** `position` is 1-based. */
  tooLarge: (position: number, name: string, bytes: number) =>
    `The ${ordinal(position)} image '${name}' size is ${mb(bytes)}MB, exceeds the maximum limit of 10MB.`,
  badExtension: (position: number, name: string, ext: string) => `The ${ordinal(position)} file '${name}' extension '${ext}' is not supported.`,
  /** ASSUMED text (URL items fail at processing time). */
  urlTooLarge: (bytes: number) => `Image size from URL is ${mb(bytes)}MB, exceeds the maximum limit of 10MB.`,
  /** ASSUMED text. */
  urlFailed: 'Failed to download image from URL.',
  batchNotFound: 'Batch ID does not exist or has expired.',
  /** ASSUMED: reusing an existing custom batch_id. */
  batchExists: (id: string) => `Batch ID '${id}' already exists.`,
  /** ASSUMED text. */
  unauthorized: 'Unauthorized: missing or invalid token.',
  /** ASSUMED: an async item with neither or both of image_url / image_base64. `position` is 1-based. */
  imageSource: (position: number, name: string) => `The ${ordinal(position)} image '${name}' must have exactly one of image_url or image_base64.`,
  /** ASSUMED: an async item whose image_base64 is not valid Base64 (a `data:` prefix is not accepted). */
  invalidBase64: (position: number, name: string) => `The ${ordinal(position)} image '${name}' image_base64 is not valid Base64.`,
  /** ASSUMED: a body that is not the documented JSON / multipart shape. */
  invalidBody: (detail: string) => `Invalid request body: ${detail}.`,
  /** ASSUMED: a ZIP in `files` that cannot be read; fails as one result at the ZIP's index. */
  badZip: (position: number, name: string) => `The ${ordinal(position)} file '${name}' is not a valid ZIP archive.`,
  /** ASSUMED: a readable ZIP with no image entries; fails as one result at the ZIP's index. */
  zipEmpty: (position: number, name: string) => `The ${ordinal(position)} file '${name}' contains no supported images.`,
  /** ASSUMED: one ZIP entry that cannot be extracted (corrupt, encrypted); fails on its own. */
  zipEntryFailed: (position: number, imageName: string) => `The image '${imageName}' in the ${ordinal(position)} file could not be extracted.`,
} as const;

/**
 * ASSUMED: which ZIP entries count as images: a supported image extension (ZIP excluded), not a
 * directory, and not macOS resource-fork metadata (`__MACOSX/…`, `._name`).
 */
export const isZipImageEntry = (entryPath: string): boolean => {
  if (entryPath.endsWith('/')) return false;
  const parts = entryPath.split('/');
  if (parts[0] === '__MACOSX') return false;
  const base = parts[parts.length - 1] ?? '';
  if (base.startsWith('._')) return false;
  const ext = extensionOf(base);
  return ext !== 'zip' && (ALLOWED_EXTENSIONS as readonly string[]).includes(ext);
};

/** Lower-case extension after the last dot of a file name's last segment ('' when none). */
export const extensionOf = (name: string): string => {
  const base = name.slice(name.lastIndexOf('/') + 1);
  const dot = base.lastIndexOf('.');
  return dot < 0 ? '' : base.slice(dot + 1).toLowerCase();
};

/**
 * ASSUMED: a ZIP's images are named `<zip name>/<entry path>`, where `<zip name>` is the
 * matching `image_names` value or the ZIP's file name; each keeps the ZIP's `index`.
 */
export const zipImageName = (zipName: string, entryPath: string) => `${zipName}/${entryPath}`;

/** ASSUMED default image_name for async items without one. */
export const defaultImageName = (index: number, url?: string): string => {
  if (url) {
    try {
      const last = new URL(url).pathname.split('/').filter(Boolean).pop();
      if (last) return decodeURIComponent(last);
    } catch {
      /* fall through */
    }
  }
  return `image_${index}`;
};

// ---- wire types ----

export interface Envelope<T> {
  code: number;
  message: string;
  data?: T;
}

export interface SubmitData {
  batch_id: string;
  total_count: number;
  message: string;
  status: string;
}

export interface StatusResult {
  index: number;
  image_name: string;
  image_url?: string;
  status: 'TASK_SUCCEEDED' | 'TASK_FAILED';
  error_message?: string;
}

export interface StatusData {
  batch_id: string;
  total_count: number;
  processed_count: number;
  success_count: number;
  failed_count: number;
  status: string;
  results: StatusResult[];
}
