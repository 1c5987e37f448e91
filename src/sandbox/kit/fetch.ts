/**
 * Outbound fetches: the sandbox downloading what a client points it at (bach's URL items; claid's
 * input URLs; blurb's artwork and audio). Only http(s), only hosts the sandbox allows (loopback
 * and its own host: test traffic never leaves the machine), at most 5 redirects (each hop checked
 * again), a timeout, a size cap — the body streams to a temp file of the content store and is
 * committed or discarded by the caller — and a ranged "first bytes" fetch for sniffing a type or
 * reading image headers without downloading the file.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { ContentStore, Ingested } from './store.js';

export const FETCH_TIMEOUT_MS = 30_000;
export const MAX_REDIRECTS = 5;
const USER_AGENT = 'batchup-sandbox';

export interface FetchPolicy {
  /** Whether the sandbox may connect to this host name. */
  isAllowedHost(hostname: string): boolean;
  /** Aborts every fetch (the sandbox closes). */
  signal: AbortSignal;
  timeoutMs?: number;
}

/** Why a fetch gave nothing: a protocol picks its own message for each. */
export type FetchFailure =
  | { ok: false; reason: 'bad-url' | 'not-allowed' | 'too-many-redirects' | 'network' | 'incomplete' }
  | { ok: false; reason: 'status'; status: number }
  /** `size`: the declared length, or the bytes counted before giving up. */
  | { ok: false; reason: 'too-large'; size: number };

export type FetchToStoreResult = { ok: true; ing: Ingested; contentType?: string; url: string } | (FetchFailure & { aborted?: boolean });

export interface FetchToStoreOptions {
  /** Bytes kept; a larger body fails 'too-large'. */
  maxBytes: number;
  /** Past `maxBytes` the body is still counted (to report its size) up to this many bytes. Default `maxBytes`. */
  countUpTo?: number;
}

export interface FirstBytes {
  ok: true;
  bytes: Buffer;
  contentType?: string;
  /** The whole resource's size, when the answer says (Content-Range, or Content-Length of a 200). */
  size?: number;
  url: string;
}

export class OutboundFetch {
  constructor(
    private readonly store: ContentStore,
    private readonly policy: FetchPolicy,
  ) {}

  /** GETs `url` into a temp file of the store (following redirects). */
  async toStore(url: string, opts: FetchToStoreOptions): Promise<FetchToStoreResult> {
    const opened = await this.open(url, {});
    if (!opened.ok) return opened;
    const { res, url: finalUrl } = opened;
    if (res.statusCode !== 200) {
      res.resume();
      return { ok: false, reason: 'status', status: res.statusCode ?? 0 };
    }
    const declared = Number(res.headers['content-length']);
    if (Number.isFinite(declared) && declared > opts.maxBytes) {
      res.destroy();
      return { ok: false, reason: 'too-large', size: declared };
    }
    const countUpTo = Math.max(opts.countUpTo ?? opts.maxBytes, opts.maxBytes);
    const w = this.store.tempWriter(opts.maxBytes);
    try {
      for await (const chunk of res as AsyncIterable<Buffer>) {
        if (w.write(chunk)) await w.drained();
        if (w.size > countUpTo) break;
      }
      const ing = await w.finish();
      if (!res.complete && w.size <= countUpTo) {
        await this.store.discard(ing);
        return { ok: false, reason: 'incomplete' };
      }
      if (ing.overLimit) {
        await this.store.discard(ing);
        return { ok: false, reason: 'too-large', size: ing.size };
      }
      return { ok: true, ing, contentType: res.headers['content-type'], url: finalUrl };
    } catch {
      await w.discard();
      res.destroy();
      return { ok: false, reason: 'network', aborted: this.policy.signal.aborted };
    } finally {
      if (!res.complete) res.destroy();
    }
  }

  /** The first `n` bytes of `url` (a `Range` request; a server that ignores it is cut off after `n`). */
  async firstBytes(url: string, n: number): Promise<FirstBytes | (FetchFailure & { aborted?: boolean })> {
    const opened = await this.open(url, { range: `bytes=0-${Math.max(0, n - 1)}` });
    if (!opened.ok) return opened;
    const { res } = opened;
    const status = res.statusCode ?? 0;
    if (status !== 200 && status !== 206) {
      res.resume();
      return { ok: false, reason: 'status', status };
    }
    const parts: Buffer[] = [];
    let have = 0;
    try {
      for await (const chunk of res as AsyncIterable<Buffer>) {
        parts.push(chunk);
        have += chunk.length;
        if (have >= n) break;
      }
    } catch {
      return { ok: false, reason: 'network', aborted: this.policy.signal.aborted };
    } finally {
      if (!res.complete) res.destroy();
    }
    const range = /\/(\d+)\s*$/.exec(String(res.headers['content-range'] ?? ''));
    const length = Number(res.headers['content-length']);
    const size = range ? Number(range[1]) : status === 200 && Number.isFinite(length) ? length : undefined;
    return { ok: true, bytes: Buffer.concat(parts).subarray(0, n), contentType: res.headers['content-type'], size, url: opened.url };
  }

  /** Follows redirects to a final answer (not yet read), checking every hop. */
  private async open(
    rawUrl: string,
    headers: Record<string, string>,
  ): Promise<{ ok: true; res: IncomingMessage; url: string } | (FetchFailure & { aborted?: boolean })> {
    let url = rawUrl;
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      let u: URL;
      try {
        u = new URL(url);
      } catch {
        return { ok: false, reason: 'bad-url' };
      }
      if (u.protocol !== 'http:' && u.protocol !== 'https:') return { ok: false, reason: 'bad-url' };
      if (!this.policy.isAllowedHost(u.hostname)) return { ok: false, reason: 'not-allowed' };
      let res: IncomingMessage;
      try {
        res = await this.get(u, headers);
      } catch {
        return { ok: false, reason: 'network', aborted: this.policy.signal.aborted };
      }
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location) {
        res.resume();
        try {
          url = new URL(res.headers.location, u).href;
        } catch {
          return { ok: false, reason: 'bad-url' };
        }
        continue;
      }
      return { ok: true, res, url: u.href };
    }
    return { ok: false, reason: 'too-many-redirects' };
  }

  private get(u: URL, headers: Record<string, string>): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const req = (u.protocol === 'https:' ? httpsRequest : httpRequest)(u, {
        method: 'GET',
        signal: this.policy.signal,
        timeout: this.policy.timeoutMs ?? FETCH_TIMEOUT_MS,
        headers: { 'user-agent': USER_AGENT, ...headers },
      });
      req.on('response', resolve);
      req.on('error', reject);
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.end();
    });
  }
}
