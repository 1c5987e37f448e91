/**
 * The hybrid wire contract (seed 003, protocols/hybrid.md), shared by the client adapter and the
 * sandbox so both speak exactly the same paths, limits and messages. Every **ASSUMED** choice of
 * the contract lives in this file and nowhere else.
 */

/** The vendor's base is the API origin; paths start with {@link HYBRID_BASE}. No public default. */
export const HYBRID_DEFAULT_ENDPOINT = '';

export const HYBRID_BASE = '/api/v1/videos/batch';

export const PATHS = {
  init: `${HYBRID_BASE}/init`,
  chunk: (uploadId: string, chunkIndex: number) => `${HYBRID_BASE}/chunk/${encodeURIComponent(uploadId)}/${chunkIndex}`,
  progress: (uploadId: string) => `${HYBRID_BASE}/progress/${encodeURIComponent(uploadId)}`,
  /** ASSUMED: `?missing=1` also returns URLs for every chunk not yet received (a resume). */
  retry: (uploadId: string, missing = false) => `${HYBRID_BASE}/retry/${encodeURIComponent(uploadId)}${missing ? '?missing=1' : ''}`,
  verify: (uploadId: string) => `${HYBRID_BASE}/verify/${encodeURIComponent(uploadId)}`,
  complete: (uploadId: string) => `${HYBRID_BASE}/complete/${encodeURIComponent(uploadId)}`,
} as const;

const MiB = 1024 * 1024;

export const LIMITS = {
  /** Files up to this size go as one presigned PUT (150 MiB); larger ones in chunks. */
  singleMaxBytes: 150 * MiB,
  /** Default chunk size, used when the init answer carries none (5 MiB). */
  chunkSize: 5 * MiB,
  /** At most this many files per init. */
  maxFilesPerInit: 5,
  /** A chunk over 2 GiB is rejected. */
  maxChunkBytes: 2 * 1024 * MiB,
  /** ASSUMED: presigned URLs live 1 hour (the sandbox makes it configurable). */
  presignTtlSec: 3600,
} as const;

export const MESSAGES = {
  notFound: 'Multipart upload info not found',
  /** `parts` are 1-based part numbers (ASSUMED: the vendor's example does not say which). */
  missingParts: (parts: number[]) => `Missing parts: ${parts.join(', ')}`,
  /** ASSUMED text. */
  unsupportedType: (type: string, name: string) => `Unsupported file type '${type}' for '${name}'.`,
  /** ASSUMED text. */
  tooManyFiles: (max: number) => `At most ${max} files can be initialized at once.`,
  /** ASSUMED text. */
  noFiles: 'No files to initialize.',
  /** ASSUMED text: a file entry without a name or a positive integer size. */
  badFile: (position: number) => `File ${position} needs a filename and a positive integer size.`,
  /** ASSUMED text. */
  unauthorized: 'Unauthorized',
  /** ASSUMED text (S3 says "Request has expired" / "SignatureDoesNotMatch"). */
  urlExpired: 'Request has expired',
  urlInvalid: 'The request signature does not match',
  /** "A body larger than the chunk it names answers 400." ASSUMED text; ASSUMED too: a short body is rejected the same way. */
  wrongChunkSize: (partNumber: number, expected: number, got: number) => `Chunk ${partNumber} must be ${expected} bytes, got ${got}`,
  chunkTooLarge: 'Chunk exceeds the 2 GiB limit',
  /** ASSUMED: S3 refuses a presigned request that also carries an Authorization header. */
  twoAuth: 'Only one auth mechanism allowed: presigned URLs take no Authorization header',
  /** ASSUMED: a second PUT of a part while the first is still streaming. */
  partBusy: (partNumber: number) => `Part ${partNumber} is being uploaded by another request`,
  badChunkIndex: (index: string) => `Invalid chunk index '${index}'`,
  /** ASSUMED text: POST /chunk without a `chunk` file field. */
  noChunkField: "Expected a multipart form with a 'chunk' file field",
} as const;

/** Content type sent in `init` per detected format; the server requires `video/*`. */
export const VIDEO_TYPES: Readonly<Record<string, string>> = {
  mp4: 'video/mp4',
  mov: 'video/quicktime',
  webm: 'video/webm',
  mkv: 'video/x-matroska',
  avi: 'video/x-msvideo',
};

/** Whether a file goes in chunks (over 150 MiB). */
export const isChunkedSize = (size: number) => size > LIMITS.singleMaxBytes;

/**
 * ASSUMED: what `complete` answers with. `title` is the file name without its extension,
 * `video_path` a path on the API origin (`/cdn/<sha256>.<ext>` in the sandbox) or an absolute URL,
 * and `sha256` the digest of the assembled file, so a client can verify integrity end to end.
 * After complete the upload's keys are gone (progress/verify answer 404); ASSUMED: a repeated
 * complete of the same upload answers the same record again (so a lost answer can be retried).
 */
export interface VideoRecord {
  id: string;
  title: string;
  video_path: string;
  status: 'processing' | string;
  size: number;
  sha256?: string;
  [k: string]: unknown;
}

// ---- wire types ----

export interface Envelope<T> {
  success: boolean;
  message?: string;
  data?: T;
}

export interface InitFile {
  filename: string;
  size: number;
  type: string;
}

export interface InitBody {
  channel_id?: string;
  files: InitFile[];
}

export interface UploadSession {
  uploadId: string;
  fileId: string;
  isChunked: boolean;
  totalChunks: number;
  /** ASSUMED extension; a client that finds none uses 5 MiB. */
  chunkSize?: number;
  presignedUrls: string[];
  status: string;
}

export interface ProgressData {
  uploadId: string;
  filename: string;
  progress: number;
  status: 'initialized' | 'uploading' | 'completed' | 'error';
  /** 0-based chunk indices. */
  failedChunks: number[];
  totalChunks: number;
  completedCount: number;
}

export interface RetryUrl {
  /** 0-based. */
  chunkIndex: number;
  url: string;
}

export interface VerifyPart {
  /** 1-based: chunkIndex + 1. */
  partNumber: number;
  eTag: string;
  size: number;
  /** ASSUMED: false for a part whose PUT broke off or was rejected (size = bytes that arrived). */
  isComplete: boolean;
}
