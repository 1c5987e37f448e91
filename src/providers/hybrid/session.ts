/** A hybrid upload session: what init answered, what the journal keeps, what the server already has. */
import { BatchupError } from '../../core/errors.js';
import type { Item } from '../../core/types.js';
import { checkPresignedUrl } from './api.js';
import { LIMITS, type UploadSession, type VerifyPart, type VideoRecord } from './contract.js';

/** What the journal keeps per file between init and complete (the resume handle). */
export interface SavedUpload {
  uploadId: string;
  fileId: string;
  isChunked: boolean;
  totalChunks: number;
  chunkSize: number;
}

export interface Session extends SavedUpload {
  urls: (string | undefined)[];
}

export const protocol = (msg: string) => new BatchupError('PROTOCOL', msg, { retryable: false });

export function isSaved(v: unknown): v is SavedUpload {
  const s = v as SavedUpload | undefined;
  return (
    !!s &&
    typeof s.uploadId === 'string' &&
    !!s.uploadId &&
    typeof s.isChunked === 'boolean' &&
    Number.isSafeInteger(s.totalChunks) &&
    s.totalChunks > 0 &&
    Number.isSafeInteger(s.chunkSize) &&
    s.chunkSize > 0
  );
}

/** Check an init session against the file; throws PROTOCOL. */
export function checkSession(s: UploadSession | undefined, size: number, name: string): Session {
  if (!s || typeof s !== 'object' || typeof s.uploadId !== 'string' || !s.uploadId) {
    throw protocol(`hybrid init: no upload session for ${name}`);
  }
  const isChunked = Boolean(s.isChunked);
  const chunkSize = isChunked ? (Number.isSafeInteger(s.chunkSize) && s.chunkSize! > 0 ? s.chunkSize! : LIMITS.chunkSize) : size;
  if (isChunked && chunkSize > LIMITS.maxChunkBytes) throw protocol(`hybrid init: chunk size ${chunkSize} for ${name} is over the 2 GiB limit`);
  const expected = isChunked ? Math.ceil(size / chunkSize) : 1;
  if (s.totalChunks !== expected) {
    throw protocol(`hybrid init: totalChunks ${s.totalChunks} for ${name}, expected ${expected} (${size} bytes, chunk size ${chunkSize})`);
  }
  if (!Array.isArray(s.presignedUrls) || s.presignedUrls.length !== s.totalChunks) {
    throw protocol(`hybrid init: ${Array.isArray(s.presignedUrls) ? s.presignedUrls.length : 'no'} presigned URLs for ${s.totalChunks} chunks of ${name}`);
  }
  return {
    uploadId: s.uploadId,
    fileId: String(s.fileId ?? ''),
    isChunked,
    totalChunks: s.totalChunks,
    chunkSize,
    urls: s.presignedUrls.map((u) => checkPresignedUrl(u)),
  };
}

export interface Job {
  it: Item;
  index: number;
  key: string;
  session?: Session;
  /** Part numbers the server already has complete (a resume). */
  received?: Set<number>;
  resumed?: boolean;
  error?: BatchupError;
  /** The record of an upload a dead run completed (adopted, not sent again). */
  adopted?: VideoRecord;
}

/** Part numbers the server has whole (right size, complete). */
export function receivedParts(parts: VerifyPart[], s: SavedUpload, size: number): Set<number> {
  const out = new Set<number>();
  for (const p of parts) {
    const n = Number(p?.partNumber);
    if (!Number.isInteger(n) || n < 1 || n > s.totalChunks) continue;
    const expected = s.isChunked ? Math.min(s.chunkSize, size - (n - 1) * s.chunkSize) : size;
    if (p.isComplete === false || Number(p.size) !== expected) continue;
    out.add(n);
  }
  return out;
}
