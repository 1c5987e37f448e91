/**
 * The hybrid HTTP client: one method per endpoint, `success` checked on every envelope, the
 * server's own message surfaced in every error. The API calls ask for credentials (`auth: true`,
 * added by core/http.ts for the API origin only); presigned PUTs ({@link putPresigned}) carry no
 * Authorization header, no cookie, nothing of ours, and a redirect from them is never followed.
 */
import { BatchupError } from '../../core/errors.js';
import { httpError, type Http, type SendResponse } from '../../core/http.js';
import { isRetryableStatus, parseRetryAfter } from '../../core/retry.js';
import {
  MESSAGES,
  PATHS,
  type Envelope,
  type InitBody,
  type ProgressData,
  type RetryUrl,
  type UploadSession,
  type VerifyPart,
  type VideoRecord,
} from './contract.js';

export class HybridApi {
  private readonly base: string;

  constructor(
    private readonly http: Http,
    endpoint: string,
  ) {
    this.base = endpoint.replace(/\/+$/, '');
  }

  private headers(json = false): Record<string, string> {
    return { accept: 'application/json', ...(json ? { 'content-type': 'application/json' } : {}) };
  }

  async init(body: InitBody, signal?: AbortSignal): Promise<UploadSession[]> {
    const res = await this.http.send({
      method: 'POST',
      url: this.base + PATHS.init,
      headers: this.headers(true),
      auth: true,
      body: JSON.stringify(body),
      signal,
    });
    const data = unwrap<UploadSession[]>(res, 'init');
    if (!Array.isArray(data)) throw protocol('init', 'data is not a list of upload sessions');
    return data;
  }

  async progress(uploadId: string, signal?: AbortSignal): Promise<ProgressData> {
    const res = await this.http.send({ method: 'GET', url: this.base + PATHS.progress(uploadId), headers: this.headers(), auth: true, signal });
    return unwrap<ProgressData>(res, 'progress');
  }

  async retry(uploadId: string, missing: boolean, signal?: AbortSignal): Promise<RetryUrl[]> {
    const res = await this.http.send({ method: 'POST', url: this.base + PATHS.retry(uploadId, missing), headers: this.headers(), auth: true, signal });
    const data = unwrap<RetryUrl[]>(res, 'retry');
    if (!Array.isArray(data)) throw protocol('retry', 'data is not a list of URLs');
    return data;
  }

  /** Parts the server has, or `undefined` when it does not know the upload (404). */
  async verify(uploadId: string, signal?: AbortSignal): Promise<VerifyPart[] | undefined> {
    const res = await this.http.send({ method: 'GET', url: this.base + PATHS.verify(uploadId), headers: this.headers(), auth: true, signal });
    if (res.status === 404) return undefined;
    const data = unwrap<VerifyPart[]>(res, 'verify');
    if (!Array.isArray(data)) throw protocol('verify', 'data is not a list of parts');
    return data;
  }

  async complete(uploadId: string, signal?: AbortSignal): Promise<VideoRecord> {
    const res = await this.http.send({ method: 'POST', url: this.base + PATHS.complete(uploadId), headers: this.headers(), auth: true, signal });
    const data = unwrap<VideoRecord>(res, 'complete');
    if (!data || typeof data !== 'object') throw protocol('complete', 'data is not a video record');
    return data;
  }
}

/**
 * PUT raw bytes to a presigned URL. Only Content-Type (and the length) go with it — never an
 * Authorization header. 403 (expired or refused URL) is retryable here: the caller asks /retry
 * for a fresh URL before trying again. A redirect is an error, never followed.
 * Returns the ETag ('' when the server sent none).
 */
export async function putPresigned(
  http: Http,
  url: string,
  body: Buffer | { length: number; stream: AsyncIterable<Uint8Array> },
  signal?: AbortSignal,
): Promise<string> {
  const u = checkPresignedUrl(url);
  const length = body.length;
  const stream = Buffer.isBuffer(body) ? body : body.stream;
  const res = await http.send({
    method: 'PUT',
    url: u,
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(length) },
    body: stream,
    signal,
  });
  if (res.status >= 200 && res.status < 300) {
    const etag = res.headers.etag;
    return (Array.isArray(etag) ? etag[0] : etag) ?? '';
  }
  const detail = serverMessage(res);
  if (res.status >= 300 && res.status < 400) {
    throw new BatchupError('PROTOCOL', `presigned PUT was redirected (HTTP ${res.status}); not followed`, { retryable: false, status: res.status });
  }
  if (res.status === 403) {
    throw new BatchupError('HTTP_RETRYABLE', `presigned URL refused (HTTP 403, expired or invalid): ${detail}`, { retryable: true, status: 403 });
  }
  const retryable = isRetryableStatus(res.status);
  throw new BatchupError(retryable ? 'HTTP_RETRYABLE' : 'HTTP', `presigned PUT failed (HTTP ${res.status}): ${detail}`, {
    status: res.status,
    retryable,
    retryAfter: parseRetryAfter(res.headers['retry-after']),
  });
}

/** Presigned URLs must be absolute http(s) URLs without credentials in them. */
export function checkPresignedUrl(url: unknown): string {
  let u: URL;
  try {
    u = new URL(String(url));
  } catch {
    throw protocol('init', `presigned URL is not a valid URL`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw protocol('init', `presigned URL has scheme ${u.protocol}`);
  if (u.username || u.password) throw protocol('init', 'presigned URL carries credentials');
  return u.href;
}

/** The part numbers of a "Missing parts: 3, 7" answer, or undefined. */
export function missingPartsOf(err: unknown): number[] | undefined {
  if (!(err instanceof BatchupError) || err.status !== 400) return undefined;
  const m = /Missing parts:\s*([\d,\s]+)/.exec(err.message);
  if (!m) return undefined;
  return m[1]!
    .split(',')
    .map((s) => Number(s.trim()))
    .filter((n) => Number.isInteger(n) && n > 0);
}

const protocol = (what: string, detail: string) => new BatchupError('PROTOCOL', `hybrid ${what}: unexpected answer: ${detail}`, { retryable: false });

function parse(res: SendResponse): Envelope<unknown> | undefined {
  try {
    const v = JSON.parse(res.text) as unknown;
    return v && typeof v === 'object' ? (v as Envelope<unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function serverMessage(res: SendResponse): string {
  const env = parse(res);
  return env?.message ? String(env.message) : res.text.slice(0, 200).trim() || `HTTP ${res.status}`;
}

function unwrap<T>(res: SendResponse, what: string): T {
  const env = parse(res);
  const ok = res.status >= 200 && res.status < 300;
  if (ok && env?.success === true && env.data !== undefined) return env.data as T;
  const msg = serverMessage(res);
  if (ok) throw protocol(what, env ? `success is ${String(env.success)}: ${msg}` : `not a JSON envelope: ${msg}`);
  if (res.status === 404 && msg.includes(MESSAGES.notFound)) {
    return notFound(what, msg);
  }
  throw httpError(res, `hybrid ${what} failed (HTTP ${res.status}): ${msg}`);
}

function notFound(what: string, msg: string): never {
  throw new BatchupError('NOT_FOUND', `hybrid ${what}: ${msg}`, { retryable: false, status: 404 });
}
