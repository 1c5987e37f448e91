/**
 * The bach HTTP client: one method per endpoint, envelope checking (code 0 or 200 is success) and
 * the server's own message surfaced in every error.
 */
import { BatchupError } from '../../core/errors.js';
import { type Http, httpError, type SendResponse } from '../../core/http.js';
import type { StreamingBody } from '../../core/bodies.js';
import { CODES, LIMITS, MESSAGES, PATHS, type Envelope, type StatusData, type SubmitData } from './contract.js';

export class BachApi {
  constructor(
    private readonly http: Http,
    private readonly endpoint: string,
  ) {}

  private url(path: string): string {
    return this.endpoint.replace(/\/+$/, '') + path;
  }

  async submit(kind: 'sync' | 'async', body: StreamingBody, signal?: AbortSignal): Promise<SubmitData> {
    const res = await this.http.send({
      method: 'POST',
      url: this.url(kind === 'sync' ? PATHS.submitWithFiles : PATHS.submit),
      headers: { 'content-type': body.contentType, 'content-length': String(body.length) },
      auth: true,
      body: body.open(),
      signal,
      // The sync endpoint may hold the connection while it takes the files in.
      headersTimeoutMs: LIMITS.syncTimeoutMs,
    });
    return unwrap<SubmitData>(res, 'submit');
  }

  /** Status of a batch, or `undefined` when the server does not know it (404, code 1203). */
  async status(batchId: string, signal?: AbortSignal): Promise<StatusData | undefined> {
    const res = await this.http.send({
      method: 'GET',
      url: this.url(PATHS.status(batchId)),
      auth: true,
      signal,
    });
    if (res.status === 404) {
      const env = parse(res);
      if (!env || env.code === CODES.batchNotFound) return undefined;
    }
    return unwrap<StatusData>(res, 'status');
  }
}

function parse(res: SendResponse): Envelope<unknown> | undefined {
  try {
    return JSON.parse(res.text) as Envelope<unknown>;
  } catch {
    return undefined;
  }
}

function unwrap<T>(res: SendResponse, what: string): T {
  const env = parse(res);
  const ok = res.status >= 200 && res.status < 300;
  if (ok && env && CODES.success.includes(env.code) && env.data !== undefined) return env.data as T;
  const serverMsg = env?.message ? env.message : res.text.slice(0, 200).trim() || `HTTP ${res.status}`;
  if (ok) {
    throw new BatchupError('PROTOCOL', `bach ${what}: unexpected answer (code ${env?.code ?? '?'}): ${serverMsg}`, { retryable: false });
  }
  throw httpError(res, `bach ${what} failed (HTTP ${res.status}${env?.code !== undefined ? `, code ${env.code}` : ''}): ${serverMsg}`);
}

/** Whether a 400 says our batch id already exists (a submit that went through before). */
export function isBatchExists(err: unknown, batchId: string): boolean {
  return err instanceof BatchupError && err.status === 400 && err.message.endsWith(MESSAGES.batchExists(batchId));
}
