/**
 * HTTP with undici: one keep-alive Agent per run, responses turned into BatchupErrors with the
 * right `retryable` flag. Providers build on `send()` and add their own envelope handling.
 *
 * Only undici's Agent and its `request` are loaded, not the package's index: the index also
 * builds fetch, WebSocket, caches, cookies and mocks, ~100 ms of every run's start (measured).
 * The two files are pinned by the lockfile; `src/types/undici-parts.d.ts` types them.
 */
import type { Dispatcher } from 'undici';
import Agent from 'undici/lib/dispatcher/agent.js';
import dispatchRequest from 'undici/lib/api/api-request.js';
import type { Readable } from 'node:stream';
import { BatchupError, interrupted, toBatchupError } from './errors.js';
import { isRetryableStatus, parseRetryAfter } from './retry.js';

export interface HttpOptions {
  /** Max idle time without bytes before a request fails (ms). */
  timeoutMs: number;
  /** Parallel connections per origin. */
  connections?: number;
}

export interface SendRequest {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  url: string;
  headers?: Record<string, string>;
  body?: string | Buffer | Readable | AsyncIterable<Uint8Array>;
  signal?: AbortSignal;
  /** Time to wait for response headers after the body is sent (sync uploads may take long). */
  headersTimeoutMs?: number;
}

export interface SendResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

export class Http {
  readonly agent: Agent;
  private readonly timeoutMs: number;

  constructor(opts: HttpOptions) {
    this.timeoutMs = opts.timeoutMs;
    this.agent = new Agent({
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 600_000,
      connections: opts.connections ?? 16,
      // Idle-body timeout: a stalled connection fails instead of hanging a cron job forever.
      bodyTimeout: opts.timeoutMs,
      headersTimeout: opts.timeoutMs,
    });
  }

  /** Send a request and read the whole (small, JSON) response body. Never throws for HTTP status. */
  async send(req: SendRequest): Promise<SendResponse> {
    let res: Dispatcher.ResponseData;
    try {
      const url = new URL(req.url);
      res = await dispatchRequest.call(this.agent, {
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method: req.method,
        headers: req.headers,
        body: req.body as Dispatcher.DispatchOptions['body'],
        signal: req.signal,
        headersTimeout: req.headersTimeoutMs ?? this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      });
    } catch (err) {
      if (req.signal?.aborted) throw interrupted(err);
      throw toBatchupError(err);
    }
    let text: string;
    try {
      text = await res.body.text();
    } catch (err) {
      throw toBatchupError(err);
    }
    return { status: res.statusCode, headers: res.headers, text };
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}

/** The server answered 404 (a session, batch or upload it no longer knows). */
export const isNotFound = (err: unknown): boolean => err instanceof BatchupError && err.status === 404;

/** The error for a non-2xx response, with retryability from its status and any Retry-After. */
export function httpError(res: SendResponse, message: string): BatchupError {
  const retryAfter = parseRetryAfter(res.headers['retry-after']);
  if (res.status === 401 || res.status === 403) {
    return new BatchupError('AUTH', message, { status: res.status, retryable: false });
  }
  const retryable = isRetryableStatus(res.status);
  return new BatchupError(retryable ? 'HTTP_RETRYABLE' : 'HTTP', message, {
    status: res.status,
    retryable,
    retryAfter,
  });
}
