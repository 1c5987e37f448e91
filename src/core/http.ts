/**
 * The one HTTP layer: every request of a run goes through `Http`, which
 * - paces it per origin (core/pacer.ts: Retry-After pauses, RateLimit windows, AIMD in flight);
 * - guards the credentials: the Authorization header is added here, only to requests that ask
 *   for it (`auth: true`) and only for the API's own origin — never to presigned URLs, downloads
 *   or any other origin, also not after a redirect; and never over plain http to a host that is
 *   not this machine unless the user opted in (`allowInsecureHttp`);
 * - follows redirects of requests whose body can be sent again (none, a string, a Buffer);
 * - turns failures into BatchupErrors with the right `retryable` flag (providers add their own
 *   envelope handling on top of `send()`).
 *
 * Only undici's Agent and its `request` are loaded, not the package's index: the index also
 * builds fetch, WebSocket, caches, cookies and mocks, ~100 ms of every run's start (measured).
 * The two files are pinned by the lockfile; `src/types/undici-parts.d.ts` types them.
 */
import type { Dispatcher } from 'undici';
import Agent from 'undici/lib/dispatcher/agent.js';
import dispatchRequest from 'undici/lib/api/api-request.js';
import type { Readable } from 'node:stream';
import { type Bandwidth, throttled } from './bandwidth.js';
import { BatchupError, configError, interrupted, toBatchupError } from './errors.js';
import { isLoopbackHost } from './loopback.js';
import { OriginPacer, type Ticket } from './pacer.js';
import { isRetryableStatus, parseRetryAfter } from './retry.js';

/** Who we are to the API: its origin, and the Authorization value (minted per call: a JWT may be renewed). */
export interface Credentials {
  origin: string;
  header(): Promise<string>;
}

export interface HttpOptions {
  /** Max idle time without bytes before a request fails (ms). */
  timeoutMs: number;
  /** Parallel connections per origin; also the most requests in flight per origin. */
  connections?: number;
  credentials?: Credentials;
  /** Send credentials over plain http to a host that is not this machine (the user's opt-in). */
  allowInsecureHttp?: boolean;
  /** Learn an origin's rate limits from its first answer before starting a burst. */
  learnFirst?: boolean;
  now?: () => number;
  /** --bwlimit: the byte budget every request body of the run shares (see bandwidth.ts). */
  bandwidth?: Bandwidth;
}

export interface SendRequest {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'HEAD';
  url: string;
  headers?: Record<string, string>;
  body?: string | Buffer | Readable | AsyncIterable<Uint8Array>;
  signal?: AbortSignal;
  /** Time to wait for response headers after the body is sent (sync uploads may take long). */
  headersTimeoutMs?: number;
  /** Add the API credentials (only ever for the API's origin). */
  auth?: boolean;
}

export interface SendResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** The URL that answered (after redirects). */
  url: string;
}

export interface OpenResponse extends Omit<SendResponse, 'text'> {
  body: Readable;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 5;

/** Refusal to send credentials in clear text: a config error (exit 2), found before any file is read. */
export function checkCredentialTransport(url: string, allowInsecureHttp = false): void {
  const u = new URL(url);
  if (u.protocol === 'http:' && !isLoopbackHost(u.hostname) && !allowInsecureHttp) {
    throw configError(
      `refusing to send credentials over plain http to ${u.host}: anyone on the way could read them (use https, or pass --allow-insecure-http if this network is trusted)`,
    );
  }
}

export class Http {
  readonly agent: Agent;
  private readonly timeoutMs: number;
  private readonly pacers = new Map<string, OriginPacer>();
  /** Per origin: 'answered' once any HTTP answer came back, 'succeeded' once a 2xx did. */
  private readonly heard = new Map<string, 'answered' | 'succeeded'>();

  constructor(private readonly opts: HttpOptions) {
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

  /** What an origin ever answered this run: nothing yet, some answer, or a success. */
  heardFrom(origin: string): 'nothing' | 'answered' | 'succeeded' {
    return this.heard.get(origin) ?? 'nothing';
  }

  /** The pacer of an origin (one per origin, made on first use). */
  pacer(origin: string): OriginPacer {
    let p = this.pacers.get(origin);
    if (!p) {
      p = new OriginPacer({ maxInFlight: this.opts.connections ?? 16, learnFirst: this.opts.learnFirst, now: this.opts.now });
      this.pacers.set(origin, p);
    }
    return p;
  }

  /** Send a request and read the whole (small, JSON) response body. Never throws for HTTP status. */
  async send(req: SendRequest): Promise<SendResponse> {
    const { res, url, done } = await this.dispatch(req);
    let text: string;
    try {
      text = await res.body.text();
    } catch (err) {
      done();
      throw req.signal?.aborted ? interrupted(err) : toBatchupError(err);
    }
    done({ status: res.statusCode, headers: res.headers });
    return { status: res.statusCode, headers: res.headers, text, url };
  }

  /**
   * A request whose response body is streamed (downloads, first-bytes probes). The caller must
   * consume or destroy `body`; its in-flight slot is held until then.
   */
  async open(req: SendRequest): Promise<OpenResponse> {
    const { res, url, done } = await this.dispatch(req);
    const outcome = { status: res.statusCode, headers: res.headers };
    let released = false;
    const release = () => {
      if (!released) done(outcome);
      released = true;
    };
    res.body.once('close', release);
    res.body.once('end', release);
    res.body.once('error', release);
    return { status: res.statusCode, headers: res.headers, url, body: res.body };
  }

  private async dispatch(
    req: SendRequest,
  ): Promise<{ res: Dispatcher.ResponseData; url: string; done: (o?: { status: number; headers: SendResponse['headers'] }) => void }> {
    let url = req.url;
    let method = req.method;
    let body = req.body;
    const replayable = body === undefined || typeof body === 'string' || Buffer.isBuffer(body);
    for (let hop = 0; ; hop++) {
      const headers = { ...req.headers, ...(await this.authHeader(req, url)) };
      const u = parseUrl(url);
      const pacer = this.pacer(u.origin);
      const ticket: Ticket = await pacer.acquire(!!headers.authorization, req.signal);
      let res: Dispatcher.ResponseData;
      try {
        const limited = this.limitBody(body, headers, req.signal);
        res = await dispatchRequest.call(this.agent, {
          origin: u.origin,
          path: `${u.pathname}${u.search}`,
          method,
          headers,
          body: limited as Dispatcher.DispatchOptions['body'],
          signal: req.signal,
          headersTimeout: req.headersTimeoutMs ?? this.timeoutMs,
          bodyTimeout: this.timeoutMs,
        });
      } catch (err) {
        pacer.release(ticket);
        if (req.signal?.aborted) throw interrupted(err);
        throw toBatchupError(err);
      }
      if (res.statusCode >= 200 && res.statusCode < 300) this.heard.set(u.origin, 'succeeded');
      else if (!this.heard.has(u.origin)) this.heard.set(u.origin, 'answered');
      const location = res.headers.location;
      if (replayable && REDIRECTS.has(res.statusCode) && typeof location === 'string' && hop < MAX_REDIRECTS) {
        await res.body.dump().catch(() => undefined);
        pacer.release(ticket, { status: res.statusCode, headers: res.headers });
        url = new URL(location, url).href;
        if (res.statusCode === 303 || ((res.statusCode === 301 || res.statusCode === 302) && method === 'POST')) {
          method = 'GET';
          body = undefined;
        }
        continue;
      }
      return { res, url, done: (o) => pacer.release(ticket, o) };
    }
  }

  /**
   * Under --bwlimit, a body goes out in slices that wait for their share of the run's budget. A
   * string or Buffer body becomes a stream then, so its length is declared here; a stream body's
   * length is already declared by its sender (every streaming body has an exact Content-Length).
   */
  private limitBody(body: SendRequest['body'], headers: Record<string, string>, signal?: AbortSignal): SendRequest['body'] {
    const bw = this.opts.bandwidth;
    if (!bw || body === undefined) return body;
    if ((typeof body === 'string' || Buffer.isBuffer(body)) && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-length')) {
      headers['content-length'] = String(Buffer.byteLength(body));
    }
    return throttled(body, bw, signal);
  }

  /** The Authorization header for this URL, when the request asks for it and the URL is the API's origin. */
  private async authHeader(req: SendRequest, url: string): Promise<Record<string, string>> {
    const c = this.opts.credentials;
    if (!req.auth || !c || parseUrl(url).origin !== c.origin) return {};
    checkCredentialTransport(url, this.opts.allowInsecureHttp);
    return { authorization: await c.header() };
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}

function parseUrl(url: string): URL {
  try {
    return new URL(url);
  } catch {
    throw new BatchupError('PROTOCOL', `not a valid URL: ${url.slice(0, 200)}`, { retryable: false });
  }
}

/** The server answered 404 (a session, batch or upload it no longer knows). */
export const isNotFound = (err: unknown): boolean => err instanceof BatchupError && err.status === 404;

/** The error for a non-2xx response, with retryability from its status and any Retry-After. */
export function httpError(res: Pick<SendResponse, 'status' | 'headers'>, message: string): BatchupError {
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
