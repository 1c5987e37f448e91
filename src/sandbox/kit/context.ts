/**
 * One request as a protocol handler sees it: the parsed URL and route params, bounded body
 * reading, the answer helpers, and the knobs fault injection turns ('slow', 'lost').
 *
 * It knows nothing of the server or of protocols: what it needs (auth, the closing signal, who
 * to tell about an answer) comes in as {@link ContextServices}, so the kit depends on nothing above it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import type { AuthCheck } from './auth.js';
import type { FaultKind } from './faults.js';

export interface ContextServices {
  readonly checkAuth: AuthCheck;
  /** Aborted when the sandbox closes: a 'slow' delay ends early. */
  readonly signal: AbortSignal;
  /** Told about every answer as its head is written (throttle accounting reads 429/503 + Retry-After). */
  answered?(status: number, headers: Readonly<Record<string, string | number>>): void;
}

export class BodyTooLarge extends Error {
  constructor() {
    super('the body is too large');
  }
}

export class RequestContext {
  /** Added before the response is written ('slow'). */
  delayMs = 0;
  /** 'lost': the request is processed, then the socket is destroyed instead of answering. */
  lost = false;
  fault: FaultKind | null = null;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly url: URL,
    readonly params: Record<string, string>,
    private readonly services: ContextServices,
  ) {}

  get gone(): boolean {
    // A request whose body iterator was closed early has no socket any more.
    return this.res.destroyed || !this.req.socket || this.req.socket.destroyed;
  }

  /**
   * The whole (small) request body; rejects past `maxBytes` (BodyTooLarge) or when the client
   * aborts. Stopping early leaves the connection open, so the refusal (`refuse`, which drains
   * the rest) reaches the client instead of a hung or reset request.
   */
  async readBody(maxBytes: number): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let n = 0;
    for await (const chunk of this.req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
      n += chunk.length;
      if (n > maxBytes) throw new BodyTooLarge();
      chunks.push(chunk);
    }
    if (!this.req.complete) throw new Error('client aborted');
    return Buffer.concat(chunks);
  }

  async authorized(): Promise<boolean> {
    return this.services.checkAuth(this.req.headers.authorization);
  }

  async json(status: number, body: unknown, headers: Record<string, string> = {}): Promise<void> {
    const text = JSON.stringify(body);
    await this.send(status, { 'content-type': 'application/json; charset=utf-8', ...headers }, text);
  }

  /** An answer that may come before the body was read: let the client finish sending, so it reads the answer. */
  refuse(status: number, body: unknown, headers: Record<string, string> = {}): Promise<void> {
    if (!this.req.complete) this.req.resume();
    return this.json(status, body, headers);
  }

  async send(status: number, headers: Record<string, string | number>, body?: string | Buffer | Readable): Promise<void> {
    if (this.delayMs > 0) await sleep(this.delayMs, this.services.signal);
    if (this.lost) {
      this.destroy();
      return;
    }
    if (this.gone || this.res.headersSent) return;
    if (typeof body === 'string' || Buffer.isBuffer(body)) {
      const buf = typeof body === 'string' ? Buffer.from(body) : body;
      this.writeHead(status, { ...headers, 'content-length': buf.length });
      this.res.end(this.req.method === 'HEAD' ? undefined : buf);
      return;
    }
    this.writeHead(status, headers);
    if (!body || this.req.method === 'HEAD') {
      body?.destroy();
      this.res.end();
      return;
    }
    await pipeline(body, this.res).catch(() => undefined);
  }

  destroy(): void {
    (this.req.socket ?? this.res.socket)?.destroy();
    this.res.destroy();
  }

  private writeHead(status: number, headers: Record<string, string | number>): void {
    this.res.writeHead(status, headers);
    this.services.answered?.(status, headers);
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((ok) => {
    if (signal.aborted) return ok();
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      ok();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      ok();
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
