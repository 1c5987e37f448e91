/**
 * blurb's HTTP calls: create a batch, get a batch, and (sandbox only) host a local asset. Every
 * API call carries `auth: true` (core adds the token for the API origin only); the envelope
 * `{success, message, data}` is checked here, and a 400's `data.errors` named in the error.
 */
import { createReadStream } from 'node:fs';
import { BatchupError } from '../../core/errors.js';
import { httpError, type Http, type SendResponse } from '../../core/http.js';
import { type BatchRecord, type Envelope, PATHS } from './contract.js';

const ERRORS_SHOWN = 5;

function parse<T>(res: SendResponse, what: string): Envelope<T> {
  let env: Envelope<T> | undefined;
  try {
    env = JSON.parse(res.text) as Envelope<T>;
  } catch {
    env = undefined;
  }
  if (res.status < 200 || res.status >= 300) {
    const errors = (env?.data as { errors?: { rule?: string; message?: string }[] } | undefined)?.errors;
    const listed =
      Array.isArray(errors) && errors.length
        ? `: ${errors
            .slice(0, ERRORS_SHOWN)
            .map((e) => `${e.message ?? e.rule}`)
            .join('; ')}`
        : '';
    throw httpError(res, `blurb ${what}: HTTP ${res.status}${env?.message ? ` ${env.message}` : ''}${listed}`);
  }
  if (!env || typeof env !== 'object' || env.success !== true || env.data === undefined) {
    throw new BatchupError('PROTOCOL', `blurb ${what}: the answer is not a success envelope (${res.text.slice(0, 200)})`, { retryable: false });
  }
  return env;
}

function batchOf(data: unknown, what: string): BatchRecord {
  const b = data as BatchRecord;
  if (!b || typeof b.batchId !== 'string' || !b.batchId || !Array.isArray(b.renders)) {
    throw new BatchupError('PROTOCOL', `blurb ${what}: no batchId and renders in the answer`, { retryable: false });
  }
  for (const r of b.renders) {
    if (!r || typeof r.renderId !== 'string' || typeof r.status !== 'string') {
      throw new BatchupError('PROTOCOL', `blurb ${what}: a render without renderId or status`, { retryable: false });
    }
  }
  return b;
}

export class BlurbApi {
  private readonly base: string;

  constructor(
    private readonly http: Http,
    endpoint: string,
  ) {
    this.base = endpoint.replace(/\/+$/, '');
  }

  async create(body: Record<string, unknown>, signal: AbortSignal): Promise<BatchRecord> {
    const res = await this.http.send({
      method: 'POST',
      url: `${this.base}${PATHS.batches}`,
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(body),
      signal,
      auth: true,
    });
    return batchOf(parse(res, 'create batch').data, 'create batch');
  }

  async get(batchId: string, signal: AbortSignal): Promise<BatchRecord> {
    const res = await this.http.send({
      method: 'GET',
      url: `${this.base}${PATHS.batch(batchId)}`,
      headers: { accept: 'application/json' },
      signal,
      auth: true,
    });
    return batchOf(parse(res, `batch ${batchId}`).data, `batch ${batchId}`);
  }

  /** Sandbox only: store a local file there and get the URL it serves it at. */
  async hostAsset(path: string, contentType: string, signal: AbortSignal): Promise<string> {
    const res = await this.http.send({
      method: 'PUT',
      url: `${this.base}${PATHS.sandboxAssets}`,
      headers: { 'content-type': contentType },
      body: createReadStream(path),
      signal,
      auth: true,
    });
    const url = (parse<{ url?: string }>(res, 'sandbox asset').data as { url?: string }).url;
    if (typeof url !== 'string') throw new BatchupError('PROTOCOL', 'blurb sandbox asset: no url in the answer', { retryable: false });
    return url;
  }
}
