/**
 * Webhook delivery as vendors describe it (blurb.md): POST JSON to the URL the client gave, a 5 s
 * timeout, no retries, and in order per key (a batch's webhooks never overtake each other; other
 * batches' run beside them). Only hosts the sandbox may reach (loopback and its own host), like
 * outbound fetches. Every delivery is counted in the stats, and the last ones are kept for tests.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Clock } from './job-clock.js';

export const WEBHOOK_TIMEOUT_MS = 5_000;
/** Deliveries kept for inspection (`GET /_sandbox/stats` shows the counts; tests read `recent`). */
const KEEP_RECENT = 200;

export interface Delivery {
  key: string;
  url: string;
  payload: unknown;
  /** When the POST started. */
  at: number;
  ms: number;
  /** The receiver's status; absent when there was no answer. */
  status?: number;
  /** Why it failed ('timeout', 'not-allowed', a network error), absent on a 2xx. */
  error?: string;
  delivered: boolean;
}

export interface WebhookStats {
  sent: number;
  delivered: number;
  failed: number;
}

export interface WebhookOptions {
  isAllowedHost(hostname: string): boolean;
  /** Aborts deliveries in flight (the sandbox closes). */
  signal: AbortSignal;
  timeoutMs?: number;
  now?: Clock;
}

export class WebhookSender {
  readonly recent: Delivery[] = [];
  private readonly chains = new Map<string, Promise<Delivery>>();
  private readonly counts: WebhookStats = { sent: 0, delivered: 0, failed: 0 };

  constructor(private readonly opts: WebhookOptions) {}

  /** Queues a POST of `payload` to `url` after every earlier one of `key`; resolves with its outcome (never rejects). */
  send(key: string, url: string, payload: unknown): Promise<Delivery> {
    const prev = this.chains.get(key) ?? Promise.resolve(undefined);
    const next = prev.then(() => this.deliver(key, url, payload));
    this.chains.set(key, next);
    void next.then(() => {
      if (this.chains.get(key) === next) this.chains.delete(key);
    });
    return next;
  }

  /** Until every queued delivery has ended. */
  async idle(): Promise<void> {
    while (this.chains.size) await Promise.allSettled([...this.chains.values()]);
  }

  snapshot(): WebhookStats {
    return { ...this.counts };
  }

  private async deliver(key: string, url: string, payload: unknown): Promise<Delivery> {
    const now = this.opts.now ?? Date.now;
    const at = now();
    const done = (r: { status?: number; error?: string }): Delivery => {
      const delivered = r.status !== undefined && r.status >= 200 && r.status < 300;
      const d: Delivery = { key, url, payload, at, ms: now() - at, ...r, delivered };
      if (!delivered && d.error === undefined) d.error = `HTTP ${r.status}`;
      this.counts.sent += 1;
      this.counts[delivered ? 'delivered' : 'failed'] += 1;
      this.recent.push(d);
      if (this.recent.length > KEEP_RECENT) this.recent.shift();
      return d;
    };
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      return done({ error: 'bad-url' });
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return done({ error: 'bad-url' });
    if (!this.opts.isAllowedHost(u.hostname)) return done({ error: 'not-allowed' });
    if (this.opts.signal.aborted) return done({ error: 'closed' });
    return done(await this.post(u, Buffer.from(JSON.stringify(payload))));
  }

  private post(u: URL, body: Buffer): Promise<{ status?: number; error?: string }> {
    return new Promise((resolve) => {
      const timeoutMs = this.opts.timeoutMs ?? WEBHOOK_TIMEOUT_MS;
      let settled = false;
      const finish = (r: { status?: number; error?: string }) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(r);
      };
      const req = (u.protocol === 'https:' ? httpsRequest : httpRequest)(u, {
        method: 'POST',
        signal: this.opts.signal,
        headers: { 'content-type': 'application/json', 'content-length': body.length, 'user-agent': 'batchup-sandbox' },
      });
      // One deadline for the whole exchange (connect, send, answer), not a socket idle timeout.
      const timer = setTimeout(() => {
        finish({ error: 'timeout' });
        req.destroy();
      }, timeoutMs);
      req.on('response', (res) => {
        res.resume(); // the status is the answer; the body is read and dropped
        finish({ status: res.statusCode ?? 0 });
      });
      req.on('error', (err) => finish({ error: (err as Error).message || 'network error' }));
      req.end(body);
    });
  }
}
