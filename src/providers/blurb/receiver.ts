/**
 * The local webhook receiver of `--webhook-listen`. blurb's webhooks are unsigned, so one is only
 * a hint that a batch changed: it wakes the waiter of that batch, which asks the API
 * (`GET /v1/batches/{id}`); a payload's status and URLs are never read. It takes only small JSON
 * POSTs naming one of this run's batches, and answers at once (the vendor allows 2 s): anything
 * else changes nothing, so a forged webhook costs at most one GET.
 *
 * A webhook that arrives before its batch's POST answer did (a fast render) is remembered for a
 * while, so the batch is asked about as soon as its id is known.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BatchupError } from '../../core/errors.js';

/** A webhook is a small JSON object; anything larger is not one. */
export const MAX_WEBHOOK_BYTES = 16 * 1024;
const EARLY_KEEP_MS = 120_000;
const EARLY_MAX = 256;

export interface ReceiverCounts {
  /** Webhooks that named one of this run's batches (each wakes its waiter). */
  accepted: number;
  /** Well-formed, but for no batch of this run (or too early and forgotten). */
  ignored: number;
  /** Not a small JSON POST. */
  refused: number;
}

export class WebhookReceiver {
  readonly counts: ReceiverCounts = { accepted: 0, ignored: 0, refused: 0 };
  private readonly watched = new Set<string>();
  private readonly pending = new Set<string>();
  private readonly wake = new Map<string, () => void>();
  private readonly early = new Map<string, number>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(host: string, port: number): Promise<WebhookReceiver> {
    const server = createServer({ requestTimeout: 10_000, headersTimeout: 5_000 });
    await new Promise<void>((ok, fail) => {
      server.once('error', (err: NodeJS.ErrnoException) =>
        fail(new BatchupError('USAGE', `--webhook-listen ${host}:${port}: cannot listen (${err.code ?? err.message})`, { cause: err })),
      );
      server.listen(port, host, () => ok());
    });
    server.unref(); // never what keeps the process alive
    const r = new WebhookReceiver(server, (server.address() as AddressInfo).port);
    server.on('request', (req, res) => r.handle(req, res));
    return r;
  }

  /** This batch is this run's: its webhooks wake its waiter. */
  watch(batchId: string): void {
    this.watched.add(batchId);
    if (this.early.delete(batchId)) this.hint(batchId);
  }

  forget(batchId: string): void {
    this.watched.delete(batchId);
    this.pending.delete(batchId);
    this.wake.delete(batchId);
  }

  /** Until a webhook for the batch arrives (one that came since the last call counts), or `ms` pass: which of the two. */
  next(batchId: string, ms: number, signal: AbortSignal): Promise<'webhook' | 'timer'> {
    if (this.pending.delete(batchId)) return Promise.resolve('webhook');
    return new Promise((ok) => {
      const done = (why: 'webhook' | 'timer') => {
        clearTimeout(timer);
        signal.removeEventListener('abort', abort);
        this.wake.delete(batchId);
        ok(why);
      };
      const timer = setTimeout(() => done('timer'), ms);
      const abort = () => done('timer');
      signal.addEventListener('abort', abort, { once: true });
      this.wake.set(batchId, () => {
        this.pending.delete(batchId);
        done('webhook');
      });
    });
  }

  close(): Promise<void> {
    return new Promise((ok) => {
      this.server.close(() => ok());
      this.server.closeAllConnections();
    });
  }

  private hint(batchId: string): void {
    this.pending.add(batchId);
    this.wake.get(batchId)?.();
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const answer = (status: number) => {
      if (!res.headersSent) res.writeHead(status, { 'content-length': 0, connection: status >= 400 ? 'close' : 'keep-alive' }).end();
    };
    const declared = Number(req.headers['content-length'] ?? 0);
    if (req.method !== 'POST' || declared > MAX_WEBHOOK_BYTES || !/json/i.test(String(req.headers['content-type'] ?? ''))) {
      this.counts.refused++;
      answer(req.method !== 'POST' ? 405 : declared > MAX_WEBHOOK_BYTES ? 413 : 415);
      req.destroy();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_WEBHOOK_BYTES) {
        this.counts.refused++;
        answer(413);
        req.destroy();
      } else chunks.push(c);
    });
    req.on('error', () => undefined);
    req.on('end', () => {
      let batchId: unknown;
      try {
        batchId = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { batchId?: unknown })?.batchId;
      } catch {
        this.counts.refused++;
        return answer(400);
      }
      answer(204);
      if (typeof batchId !== 'string' || !batchId || batchId.length > 200) {
        this.counts.ignored++;
        return;
      }
      if (this.watched.has(batchId)) {
        this.counts.accepted++;
        this.hint(batchId);
        return;
      }
      this.counts.ignored++;
      this.remember(batchId);
    });
  }

  /** A webhook for a batch not known yet (its POST answer may still be on its way). */
  private remember(batchId: string): void {
    const now = Date.now();
    for (const [id, at] of this.early) if (now - at > EARLY_KEEP_MS || this.early.size >= EARLY_MAX) this.early.delete(id);
    this.early.set(batchId, now);
  }
}
