/**
 * The claid HTTP client: one method per endpoint, each asking for the API key (`auth: true`:
 * core/http.ts adds it for the API's origin only, never for tmp_urls or probed URLs). Every error
 * carries the server's own words, from either error body of the contract
 * (`{error_code, error_type, error_message, error_details}` or `{detail: …}`).
 */
import type { StreamingBody } from '../../core/bodies.js';
import { BatchupError } from '../../core/errors.js';
import { httpError, type Http, type SendResponse } from '../../core/http.js';
import { type BatchData, LIMITS, PATHS, REQUEST_ID_HEADER, type StorageInfo, type UploadData } from './contract.js';

const one = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);

export class ClaidApi {
  private readonly base: string;

  constructor(
    private readonly http: Http,
    endpoint: string,
  ) {
    this.base = endpoint.replace(/\/+$/, '');
  }

  /** One synchronous edit of a local file (multipart `data` + `file`). */
  async upload(body: StreamingBody, signal?: AbortSignal): Promise<{ data: UploadData; requestId?: string }> {
    const res = await this.http.send({
      method: 'POST',
      url: this.base + PATHS.upload,
      headers: { accept: 'application/json', 'content-type': body.contentType, 'content-length': String(body.length) },
      body: body.open(),
      auth: true,
      signal,
      // The edit happens before the answer: it may take a while once the file is in.
      headersTimeoutMs: LIMITS.uploadAnswerTimeoutMs,
    });
    const data = unwrap<UploadData>(res, 'upload');
    if (!data.input || typeof data.input !== 'object' || !data.output || typeof data.output !== 'object') {
      throw protocol('upload', 'no input/output objects in the answer');
    }
    return { data, requestId: one(res.headers[REQUEST_ID_HEADER]) };
  }

  async submitBatch(body: Record<string, unknown>, signal?: AbortSignal): Promise<BatchData> {
    const res = await this.http.send({
      method: 'POST',
      url: this.base + PATHS.batch,
      headers: { accept: 'application/json', 'content-type': 'application/json' },
      body: JSON.stringify(body),
      auth: true,
      signal,
    });
    return checkBatch(unwrap<BatchData>(res, 'batch'), 'batch');
  }

  async batch(id: string, signal?: AbortSignal): Promise<BatchData> {
    const res = await this.http.send({ method: 'GET', url: this.base + PATHS.batchStatus(id), headers: { accept: 'application/json' }, auth: true, signal });
    return checkBatch(unwrap<BatchData>(res, `batch ${id}`), `batch ${id}`);
  }

  /** Connected storages; undefined when the key may not list them (403: no storage scope). */
  async storages(signal?: AbortSignal): Promise<StorageInfo[] | undefined> {
    const res = await this.http.send({ method: 'GET', url: this.base + PATHS.storages, headers: { accept: 'application/json' }, auth: true, signal });
    if (res.status === 403) return undefined;
    const data = unwrap<StorageInfo[]>(res, 'storages');
    if (!Array.isArray(data)) throw protocol('storages', 'data is not a list');
    return data;
  }
}

function checkBatch(b: BatchData, what: string): BatchData {
  if (!b || (typeof b.id !== 'number' && typeof b.id !== 'string') || typeof b.status !== 'string') throw protocol(what, 'no batch id or status');
  return { ...b, errors: Array.isArray(b.errors) ? b.errors : [], results: Array.isArray(b.results) ? b.results : [] };
}

const protocol = (what: string, detail: string) => new BatchupError('PROTOCOL', `claid ${what}: unexpected answer: ${detail}`, { retryable: false });

function parse(res: SendResponse): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(res.text) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The server's words from either error body (and the 429 body nested under `detail`). */
export function serverMessage(res: Pick<SendResponse, 'status' | 'text'>): string {
  const body = parse(res as SendResponse);
  const details = (b: Record<string, unknown>): string => {
    const extra = b.error_details && typeof b.error_details === 'object' ? Object.entries(b.error_details as Record<string, unknown>) : [];
    const more = extra.map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(', ') : String(v)}`).join('; ');
    return `${String(b.error_message)}${more ? ` (${more})` : ''}`;
  };
  if (body && typeof body.error_message === 'string') return details(body);
  const d = body?.detail;
  if (Array.isArray(d)) {
    return d.map((x: { loc?: unknown; msg?: unknown }) => `${Array.isArray(x?.loc) ? `${x.loc.join('.')}: ` : ''}${String(x?.msg ?? '')}`).join('; ');
  }
  if (d && typeof d === 'object' && typeof (d as Record<string, unknown>).error_message === 'string') return details(d as Record<string, unknown>);
  if (typeof d === 'string') return d;
  return res.text.slice(0, 200).trim() || `HTTP ${res.status}`;
}

function unwrap<T>(res: SendResponse, what: string): T {
  const ok = res.status >= 200 && res.status < 300;
  if (ok) {
    const data = parse(res)?.data;
    if (data === undefined || data === null) throw protocol(what, `not a {data: …} answer: ${res.text.slice(0, 200)}`);
    return data as T;
  }
  const msg = serverMessage(res);
  if (res.status === 402) {
    return quota(what, msg);
  }
  if (res.status === 404) {
    throw new BatchupError('NOT_FOUND', `claid ${what}: ${msg}`, { status: 404, retryable: false });
  }
  const scope = res.status === 403 ? ' (does the API key have the storage scope? a key without it gets 403 wherever a storage is involved)' : '';
  throw httpError(res, `claid ${what} failed (HTTP ${res.status}): ${msg}${scope}`);
}

function quota(what: string, msg: string): never {
  throw new BatchupError(
    'QUOTA',
    `claid has no API calls left on this account (HTTP 402 on ${what}: ${msg}): nothing more is sent; top up, then run the same command again (what is done is kept)`,
    { status: 402, retryable: false },
  );
}
