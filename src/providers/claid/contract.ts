/**
 * The claid wire contract (seed 001, protocols/claid.md, and the vendor's public API reference:
 * docs.claid.ai and the OpenAPI of it in api-evangelist/lets-enhance), shared by the client
 * adapter and the sandbox so both speak the same paths, limits, statuses, error bodies and
 * resizing rules. Every **ASSUMED** choice (where the vendor's pages are silent) lives in this
 * file and nowhere else.
 */

export const CLAID_DEFAULT_ENDPOINT = 'https://api.claid.ai';

/** Every path exists under both prefixes; batchup speaks `/v1`, the sandbox serves both. */
export const API_PREFIXES = ['/v1', '/v1-beta1'] as const;

export const PATHS = {
  upload: '/v1/image/edit/upload',
  batch: '/v1/image/edit/batch',
  batchStatus: (id: string | number) => `/v1/image/edit/batch/${encodeURIComponent(String(id))}`,
  storages: '/v1/storage/storages',
} as const;

const MiB = 1024 * 1024;

export const LIMITS = {
  /** ASSUMED: no per-batch limit is documented; batchup sends at most 100 URLs per batch. */
  maxUrlsPerBatch: 100,
  /** ASSUMED: no file-size limit is documented; 25 MiB per input (uploads and fetched URLs). */
  maxFileSize: 25 * MiB,
  /** ASSUMED: no megapixel limit is documented; inputs over 100 MP are refused (422). */
  maxInputPixels: 100_000_000,
  /** ASSUMED: an output side over 16,383 px (WebP's own maximum) is refused (422). */
  maxOutputSide: 16_383,
  /** Documented: outputs without a destination are temporary and kept one day. */
  tmpUrlTtlMs: 24 * 3600 * 1000,
  /** The OpenAPI's maxLength of an input URL (its prose says 512; the schema is what is enforced: ASSUMED). */
  maxUrlLength: 4096,
  /** ASSUMED: how long a synchronous upload may take to answer once its body is sent. */
  uploadAnswerTimeoutMs: 300_000,
  /** batchup's own grouping of local files into plan batches (one request per file either way). */
  filesPerPlanBatch: 50,
} as const;

/** ASSUMED name: the docs mention a request-id header on every answer without naming it. batchup records it as an upload's `id`. */
export const REQUEST_ID_HEADER = 'x-request-id';

/** ASSUMED: each edited image costs one API call, charged when its request is accepted (polls and listings cost none). */
export const CALLS_PER_IMAGE = 1;

/** ASSUMED: a folder's images are processed (and reported) in the code-point order of their paths. */
export const byPath = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** ASSUMED: an object written to a storage is reported as the bucket URI `s3://<bucket>/<key>` (bucket = the storage's name). */
export const objectUri = (bucket: string, key: string) => `s3://${bucket}/${key}`;

/** Documented default rate limit: 120 requests a minute and 4 a second (the sandbox's default). */
export const DEFAULT_RATE_LIMIT = '120;w=60, 4;w=1';

/** Batch statuses; they only move forward. `PAUSED` and `WAITING` are waiting, not failures. */
export const STATUS = {
  accepted: 'ACCEPTED',
  waiting: 'WAITING',
  paused: 'PAUSED',
  processing: 'PROCESSING',
  done: 'DONE',
  error: 'ERROR',
  cancelled: 'CANCELLED',
} as const;

export const FINAL_STATUSES: readonly string[] = [STATUS.done, STATUS.error, STATUS.cancelled];

/** Documented input formats (BMP, GIF, JPEG, PNG, TIFF, WEBP, AVIF, HEIC), by file extension. */
export const INPUT_EXTENSIONS = ['bmp', 'gif', 'jpg', 'jpeg', 'png', 'tif', 'tiff', 'webp', 'avif', 'heic', 'heif'] as const;

/** MIME type and upper-case format name of an input, by batchup's canonical format name. */
export const INPUT_MEDIA: Readonly<Record<string, { mime: string; format: string }>> = {
  bmp: { mime: 'image/bmp', format: 'BMP' },
  gif: { mime: 'image/gif', format: 'GIF' },
  jpg: { mime: 'image/jpeg', format: 'JPEG' },
  png: { mime: 'image/png', format: 'PNG' },
  tiff: { mime: 'image/tiff', format: 'TIFF' },
  webp: { mime: 'image/webp', format: 'WEBP' },
  avif: { mime: 'image/avif', format: 'AVIF' },
  heic: { mime: 'image/heic', format: 'HEIC' },
};

/** Documented output formats; `ext` as the seed's example reports it (`jpeg`). Default jpeg. */
export const OUTPUT_FORMATS = {
  jpeg: { ext: 'jpeg', mime: 'image/jpeg', format: 'JPEG' },
  png: { ext: 'png', mime: 'image/png', format: 'PNG' },
  webp: { ext: 'webp', mime: 'image/webp', format: 'WEBP' },
  avif: { ext: 'avif', mime: 'image/avif', format: 'AVIF' },
  tiff: { ext: 'tiff', mime: 'image/tiff', format: 'TIFF' },
} as const;

export type OutputFormat = keyof typeof OUTPUT_FORMATS;

const isOutputFormat = (v: unknown): v is OutputFormat => typeof v === 'string' && Object.hasOwn(OUTPUT_FORMATS, v);

/** Megapixels as the vendor reports them: width × height / 10⁶. */
export const megapixels = (width: number, height: number) => (width * height) / 1e6;

// ---- errors ----

/** The error body of most failures (`HttpErrorDetails`). */
export interface ErrorDetails {
  error_code: string;
  error_type: string;
  error_message: string;
  error_details?: Record<string, string[]>;
}

/** The other 422 shape (request validation): `{detail: [{loc, msg, type}]}`. */
export interface ValidationDetail {
  loc: (string | number)[];
  msg: string;
  type: string;
}

/** Error codes, types and messages. The 429 body comes nested under `detail`. */
export const ERRORS = {
  validation: { status: 422, code: '9000', type: 'validation' },
  unauthorized: { status: 401, code: '111', type: 'auth', message: 'Authorization is required.' },
  /** ASSUMED code; type and message are the vendor's. */
  noCallsLeft: { status: 402, code: '120', type: 'billing', message: 'No API calls left.' },
  /** ASSUMED code; the message is the vendor's. */
  forbidden: { status: 403, code: '112', type: 'auth', message: 'Not enough permissions.' },
  /** ASSUMED code and type; the message is the vendor's. */
  notFound: { status: 404, code: '404', type: 'image', message: 'Batch image edit pipeline not found.' },
  /** ASSUMED type and message; the code is the vendor's. */
  rateLimited: { status: 429, code: '2001', type: 'general', message: 'Too many requests.' },
} as const;

/** ASSUMED wording of the validation messages the vendor does not document. */
export const MESSAGES = {
  notAnImage: 'The file is not a readable image.',
  unsupportedFormat: (format: string) => `Input format ${format} is not supported.`,
  fileTooLarge: (bytes: number) => `The file is ${(bytes / MiB).toFixed(2)} MB, over the limit of ${LIMITS.maxFileSize / MiB} MB.`,
  tooManyPixels: (w: number, h: number) => `The image is ${w}x${h}, over the limit of ${LIMITS.maxInputPixels / 1e6} megapixels.`,
  outputTooLarge: (w: number, h: number) => `The output would be ${w}x${h}, over the limit of ${LIMITS.maxOutputSide} px per side.`,
  fetchFailed: (url: string, why: string) => `Failed to fetch the input image ${url}: ${why}.`,
  /** Documented: a folder with no images fails the batch. */
  noImages: 'No images found',
  storageUnknown: (name: string) => `Storage '${name}' is not connected.`,
  badStorageUri: (uri: string) => `'${uri}' is not a storage://NAME/PATH URI.`,
  destinationNotFolder: 'The output destination of a batch must be a folder (ending in /).',
  mixedUnits: 'width and height must both be pixels or both be percentages.',
  differentPercentages: 'width and height given as percentages must be equal.',
  bothAuto: 'width and height cannot both be auto.',
  extraField: 'extra fields not permitted',
  fieldRequired: 'field required',
  notAnInteger: 'value is not a valid integer',
} as const;

// ---- wire types ----

export interface ImageObject {
  /** Input: the file name's extension (the seed's example keeps `pnj` for a JPEG: ASSUMED). Output: the format's. */
  ext: string;
  mps: number;
  mime: string;
  /** Upper case, e.g. `JPEG`. */
  format: string;
  width: number;
  height: number;
}

export interface OutputObject extends ImageObject {
  /** Without a destination: a temporary download URL, kept one day. */
  tmp_url?: string;
  /** With a storage destination: where it was written; `object_uri` is a bucket URI (`s3://…`), not a download link. */
  object_key?: string;
  object_bucket?: string;
  object_uri?: string;
  claid_storage_uri?: string;
}

export interface ResultItem {
  input_object: ImageObject;
  output_object: OutputObject;
}

export interface BatchData {
  id: number;
  status: string;
  result_url?: string;
  created_at: string;
  request?: unknown;
  errors: { error: string; created_at: string }[];
  /** In input order, without the input URL: position is the only way back to an input. */
  results: ResultItem[];
}

/** The upload endpoint's answer names them `input`/`output`, not `input_object`/`output_object`. */
export interface UploadData {
  input: ImageObject;
  output: OutputObject;
}

export interface StorageInfo {
  id: number;
  name: string;
  type: 'web_folder' | 's3' | 'gcs';
  parameters: Record<string, unknown>;
}

// ---- storage URIs ----

/** `storage://NAME/PATH` → its parts; undefined when it is not one (or climbs out with `..`: ASSUMED refused). */
export function parseStorageUri(uri: string): { storage: string; path: string; folder: boolean } | undefined {
  const m = /^storage:\/\/([^/\s]+)\/(.*)$/.exec(uri);
  if (!m) return undefined;
  const path = m[2]!;
  if (path.split('/').some((s) => s === '..' || s === '.')) return undefined;
  return { storage: m[1]!, path, folder: path === '' || path.endsWith('/') };
}

// ---- operations and output: what the server takes (422 otherwise) ----

export const OPERATION_SECTIONS = ['restorations', 'adjustments', 'background', 'resizing', 'padding', 'privacy', 'generative'] as const;

export const FITS = ['crop', 'cover', 'bounds', 'canvas', 'outpaint'] as const;
export type Fit = (typeof FITS)[number];

/**
 * Why the server refuses a body part: `extra` (an unknown key) and `type` are request validation
 * (the `detail` body); `value` is a rule of the contract (the 9000 body).
 */
export interface Problem {
  kind: 'extra' | 'type' | 'value';
  path: string[];
  message: string;
}

const isObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

type Dimension = { px: number } | { pct: number } | 'auto' | undefined;

/** A width or height: pixels, `"N%"`, `"auto"`, or not given; null when it is none of them. */
function dimension(v: unknown): Dimension | null {
  if (v === undefined || v === null) return undefined;
  if (v === 'auto') return 'auto';
  if (typeof v === 'number') return Number.isSafeInteger(v) && v > 0 ? { px: v } : null;
  if (typeof v === 'string') {
    const m = /^(\d+(?:\.\d+)?)%$/.exec(v.trim());
    return m && Number(m[1]) > 0 ? { pct: Number(m[1]) } : null;
  }
  return null;
}

/** The fit mode of `fit` (a name, or an object with a `type`); undefined when it is neither. */
export function fitOf(fit: unknown): Fit | undefined {
  if (fit === undefined || fit === null) return 'crop';
  const name = isObject(fit) ? fit.type : fit;
  return (FITS as readonly unknown[]).includes(name) ? (name as Fit) : undefined;
}

function resizingProblem(r: unknown): Problem | undefined {
  const at = (k: string) => ['operations', 'resizing', k];
  if (r === null || r === undefined) return undefined;
  if (!isObject(r)) return { kind: 'type', path: ['operations', 'resizing'], message: 'value is not a valid dict' };
  for (const k of Object.keys(r)) if (!['width', 'height', 'fit'].includes(k)) return { kind: 'extra', path: at(k), message: MESSAGES.extraField };
  const w = dimension(r.width);
  const h = dimension(r.height);
  if (w === null) return { kind: 'type', path: at('width'), message: 'must be pixels (a positive integer), "N%" or "auto"' };
  if (h === null) return { kind: 'type', path: at('height'), message: 'must be pixels (a positive integer), "N%" or "auto"' };
  if (fitOf(r.fit) === undefined) return { kind: 'type', path: at('fit'), message: `must be one of ${FITS.join(', ')}` };
  if (w === 'auto' && h === 'auto') return { kind: 'value', path: ['operations', 'resizing'], message: MESSAGES.bothAuto };
  if (w && h && w !== 'auto' && h !== 'auto') {
    if ('px' in w !== 'px' in h) return { kind: 'value', path: ['operations', 'resizing'], message: MESSAGES.mixedUnits };
    if ('pct' in w && 'pct' in h && w.pct !== h.pct) return { kind: 'value', path: ['operations', 'resizing'], message: MESSAGES.differentPercentages };
  }
  return undefined;
}

/** The first thing the server refuses in `operations` (required: an object of the documented sections). */
export function operationsProblem(ops: unknown): Problem | undefined {
  if (!isObject(ops)) return { kind: 'type', path: ['operations'], message: ops === undefined ? MESSAGES.fieldRequired : 'value is not a valid dict' };
  for (const [key, value] of Object.entries(ops)) {
    if (!(OPERATION_SECTIONS as readonly string[]).includes(key)) return { kind: 'extra', path: ['operations', key], message: MESSAGES.extraField };
    if (value === null) continue;
    if (key === 'padding' ? typeof value !== 'string' : !isObject(value)) {
      return { kind: 'type', path: ['operations', key], message: key === 'padding' ? 'str type expected' : 'value is not a valid dict' };
    }
  }
  return resizingProblem(ops.resizing);
}

/** The first thing the server refuses in `output`: a storage URI, or `{format, destination, metadata}`. */
export function outputProblem(out: unknown): Problem | undefined {
  if (out === undefined || out === null) return undefined;
  if (typeof out === 'string') return parseStorageUri(out) ? undefined : { kind: 'value', path: ['output'], message: MESSAGES.badStorageUri(out) };
  if (!isObject(out)) return { kind: 'type', path: ['output'], message: 'must be a storage URI or an object' };
  for (const k of Object.keys(out))
    if (!['format', 'destination', 'metadata'].includes(k)) return { kind: 'extra', path: ['output', k], message: MESSAGES.extraField };
  const f = out.format;
  if (f !== undefined && !isOutputFormat(f) && !(isObject(f) && isOutputFormat(f.type))) {
    return { kind: 'type', path: ['output', 'format'], message: `must be one of ${Object.keys(OUTPUT_FORMATS).join(', ')}` };
  }
  const d = out.destination;
  if (d !== undefined && d !== null && (typeof d !== 'string' || !parseStorageUri(d))) {
    return { kind: 'value', path: ['output', 'destination'], message: MESSAGES.badStorageUri(String(d)) };
  }
  if (out.metadata !== undefined && out.metadata !== null && !isObject(out.metadata))
    return { kind: 'type', path: ['output', 'metadata'], message: 'value is not a valid dict' };
  return undefined;
}

/** The output format an (accepted) `output` asks for; jpeg by default. */
export function outputFormatOf(out: unknown): OutputFormat {
  const f = isObject(out) ? out.format : undefined;
  const name = isObject(f) ? f.type : f;
  return isOutputFormat(name) ? name : 'jpeg';
}

/** The storage destination of an (accepted) `output`, if any. */
export function destinationOf(out: unknown): string | undefined {
  if (typeof out === 'string') return out;
  return isObject(out) && typeof out.destination === 'string' ? out.destination : undefined;
}

// ---- resizing: what the output dimensions are ----

/** `a × b / c` rounded half up, in integers (no float error at the .5). */
const mulDiv = (a: number, b: number, c: number) => Math.max(1, Math.floor((2 * a * b + c) / (2 * c)));
const percentOf = (n: number, pct: number) => Math.max(1, Math.floor((n * pct) / 100 + 0.5 + 1e-9));

/**
 * The output size for an input of `input` px under an accepted `resizing`: one side given, the
 * other keeps the aspect ratio (rounded half up); both given, `fit` decides — crop (default),
 * canvas and outpaint give exactly w×h, bounds fits inside, cover covers; percentages scale both.
 */
export function outputSize(input: { width: number; height: number }, resizing: unknown): { width: number; height: number } {
  const { width: w, height: h } = input;
  if (!isObject(resizing)) return { width: w, height: h };
  const a = dimension(resizing.width);
  const b = dimension(resizing.height);
  const W = a && a !== 'auto' ? a : undefined;
  const H = b && b !== 'auto' ? b : undefined;
  const pct = (W && 'pct' in W ? W.pct : undefined) ?? (H && 'pct' in H ? H.pct : undefined);
  if (pct !== undefined) return { width: percentOf(w, pct), height: percentOf(h, pct) };
  const pw = W && 'px' in W ? W.px : undefined;
  const ph = H && 'px' in H ? H.px : undefined;
  if (pw === undefined && ph === undefined) return { width: w, height: h };
  if (ph === undefined) return { width: pw!, height: mulDiv(pw!, h, w) };
  if (pw === undefined) return { width: mulDiv(ph, w, h), height: ph };
  const fit = fitOf(resizing.fit) ?? 'crop';
  if (fit === 'bounds' || fit === 'cover') {
    // Width decides when it is the tighter side (bounds) or the looser one (cover).
    const widthDecides = fit === 'bounds' ? pw * h <= ph * w : pw * h >= ph * w;
    return widthDecides ? { width: pw, height: mulDiv(pw, h, w) } : { width: mulDiv(ph, w, h), height: ph };
  }
  return { width: pw, height: ph };
}
