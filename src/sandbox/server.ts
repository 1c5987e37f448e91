/**
 * The sandbox HTTP server: lifecycle, a small router, fault injection and the shared services
 * (store, stats, auth) that each protocol plugs into. A protocol is one file exporting a
 * `ProtocolFactory`; add it to PROTOCOLS in protocols.ts.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { isIP, type AddressInfo } from 'node:net';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import type { AihubSandboxOptions } from './aihub.js';
import { createAuthCheck, type AuthCheck } from './auth.js';
import { FaultInjector, type FaultKind, type FaultOptions } from './faults.js';
import { contentTypeOf } from './media.js';
import { Stats, type SandboxStats } from './stats.js';
import { ContentStore } from './store.js';
import { PROTOCOLS } from './protocols.js';

export interface SandboxOptions {
  /** Default 127.0.0.1 (loopback only unless told). */
  host?: string;
  /** Default 0 = a free port. */
  port?: number;
  /** Default: a fresh temp dir, removed again on close. */
  dataDir?: string;
  faults?: Partial<FaultOptions>;
  /** Async processing speed; default 5 ms per image. */
  processMsPerImage?: number;
  /** When given (both), Bearer must be an HS256 JWT signed with secretKey, iss = accessKey, valid nbf/exp. */
  accessKey?: string;
  secretKey?: string;
  /** When given, Bearer must equal it. With neither, any non-empty bearer is accepted. */
  token?: string;
  /** Request log; never receives Authorization values. */
  log?: (line: string) => void;
  /** Origin to put in the URLs handed out, when clients reach the sandbox under another name. */
  publicUrl?: string;
  /** Lifetime of presigned URLs (hybrid), seconds; default 3600. Tests make them expire fast. */
  presignTtlSec?: number;
  /** aihub settings (part size, results page size, job pace); defaults in providers/aihub/contract.ts. */
  aihub?: Partial<AihubSandboxOptions>;
}

export interface Sandbox {
  /** Origin, e.g. http://127.0.0.1:43123, no trailing slash. */
  url: string;
  /** url + '/api/vdr' */
  bachEndpoint: string;
  dataDir: string;
  stats(): SandboxStats;
  close(): Promise<void>;
}

/** What a protocol gets from the server. */
export interface SandboxCore {
  /** Origin used in URLs handed out, no trailing slash. */
  readonly origin: string;
  readonly dataDir: string;
  readonly store: ContentStore;
  readonly stats: Stats;
  readonly processMsPerImage: number;
  readonly checkAuth: AuthCheck;
  readonly log: (line: string) => void;
  /** Aborted when the sandbox closes: background work stops. */
  readonly signal: AbortSignal;
  /** Registers background work that close() waits for. */
  track(work: Promise<unknown>): void;
  /** Hosts the sandbox may fetch from (loopback only, plus its own host). */
  isAllowedFetchHost(hostname: string): boolean;
  /** URL of a stored object: `${origin}/cdn/<sha256>.<ext>`. */
  cdnUrl(sha256: string, ext: string): string;
  /** Lifetime of presigned URLs, seconds. */
  readonly presignTtlSec: number;
  /** Faults for presigned part PUTs (FaultOptions.partRate/partKinds); the protocol applies them. */
  readonly partFaults: FaultInjector;
  /** SandboxOptions.aihub, as given. */
  readonly aihub?: Partial<AihubSandboxOptions>;
}

export interface Route {
  method: string | readonly string[];
  /** Literal segments and `:param` segments, e.g. '/api/vdr/batch-upload/status/:batch_id'. */
  path: string;
  /** Stats key, e.g. 'bach.status'. */
  name: string;
  /** Whether injected faults apply (the vendors' API routes; never /cdn or /_sandbox). */
  faults?: boolean;
  /** Counted in stats.requests (default true; false for the sandbox's own introspection routes). */
  counted?: boolean;
  handle(ctx: RequestContext): Promise<void> | void;
}

export interface Protocol {
  name: string;
  routes: Route[];
  /** Body of an error the server answers by itself on this protocol's routes (faults, crashes). */
  errorBody?(status: number, message: string): unknown;
  /** Everything stored about one batch, for tests (`GET /_sandbox/batches/:id`). */
  inspectBatch?(id: string): unknown;
  batchCount?(): number;
  close?(): Promise<void>;
}

export type ProtocolFactory = (core: SandboxCore) => Promise<Protocol> | Protocol;

const DEFAULT_PROCESS_MS = 5;

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
    readonly route: Route,
    readonly protocol: Protocol | undefined,
    readonly core: SandboxCore,
  ) {}

  get gone(): boolean {
    // A request whose body iterator was closed early has no socket any more.
    return this.res.destroyed || !this.req.socket || this.req.socket.destroyed;
  }

  /** The whole (small) request body; rejects past `maxBytes` (BodyTooLarge) or when the client aborts. */
  async readBody(maxBytes: number): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let n = 0;
    for await (const chunk of this.req as AsyncIterable<Buffer>) {
      n += chunk.length;
      if (n > maxBytes) throw new BodyTooLarge();
      chunks.push(chunk);
    }
    if (!this.req.complete) throw new Error('client aborted');
    return Buffer.concat(chunks);
  }

  async authorized(): Promise<boolean> {
    return this.core.checkAuth(this.req.headers.authorization);
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
    if (this.delayMs > 0) await sleep(this.delayMs, this.core.signal);
    if (this.lost) {
      this.destroy();
      return;
    }
    if (this.gone || this.res.headersSent) return;
    if (typeof body === 'string' || Buffer.isBuffer(body)) {
      const buf = typeof body === 'string' ? Buffer.from(body) : body;
      this.res.writeHead(status, { ...headers, 'content-length': buf.length });
      this.res.end(this.req.method === 'HEAD' ? undefined : buf);
      return;
    }
    this.res.writeHead(status, headers);
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
}

interface CompiledRoute {
  route: Route;
  protocol: Protocol | undefined;
  segments: string[];
  methods: string[];
}

class Router {
  private readonly routes: CompiledRoute[] = [];

  add(route: Route, protocol?: Protocol): void {
    const methods = (typeof route.method === 'string' ? [route.method] : [...route.method]).map((m) => m.toUpperCase());
    if (methods.includes('GET') && !methods.includes('HEAD')) methods.push('HEAD');
    this.routes.push({ route, protocol, segments: route.path.split('/').filter(Boolean), methods });
  }

  match(method: string, pathname: string):
    | { hit: CompiledRoute; params: Record<string, string> }
    | { methodNotAllowed: true }
    | undefined {
    const parts = pathname.split('/').filter(Boolean);
    let wrongMethod = false;
    for (const c of this.routes) {
      if (c.segments.length !== parts.length) continue;
      const params: Record<string, string> = {};
      let ok = true;
      for (let i = 0; i < parts.length && ok; i++) {
        const seg = c.segments[i]!;
        if (seg.startsWith(':')) {
          try {
            params[seg.slice(1)] = decodeURIComponent(parts[i]!);
          } catch {
            ok = false;
          }
        } else if (seg !== parts[i]) {
          ok = false;
        }
      }
      if (!ok) continue;
      if (!c.methods.includes(method)) {
        wrongMethod = true;
        continue;
      }
      return { hit: c, params };
    }
    return wrongMethod ? { methodNotAllowed: true } : undefined;
  }
}

export async function startSandbox(opts: SandboxOptions = {}): Promise<Sandbox> {
  const host = opts.host ?? '127.0.0.1';
  // Validate everything before touching the disk.
  const faults = new FaultInjector(opts.faults);
  const checkAuth = createAuthCheck(opts);
  const processMsPerImage = opts.processMsPerImage ?? DEFAULT_PROCESS_MS;
  if (!(processMsPerImage >= 0)) throw new RangeError('processMsPerImage must be >= 0');
  const presignTtlSec = opts.presignTtlSec ?? 3600;
  if (!(presignTtlSec > 0)) throw new RangeError('presignTtlSec must be > 0');
  const partFaults = faults.forParts();
  const log = opts.log ?? (() => undefined);
  const stats = new Stats();

  const ownDir = opts.dataDir === undefined;
  const dataDir = ownDir ? await mkdtemp(join(tmpdir(), 'batchup-sandbox-')) : resolve(opts.dataDir!);
  const boot = async (): Promise<Sandbox> => {
    await mkdir(dataDir, { recursive: true });
    const store = await ContentStore.open(dataDir, stats);
    const closing = new AbortController();
    const background = new Set<Promise<unknown>>();
    const inflight = new Set<Promise<void>>();

    const server: Server = createServer({
      // Sync uploads may legitimately take up to the vendor's 1 h connection limit.
      requestTimeout: 3_600_000,
      headersTimeout: 60_000,
    });
    // Bytes read from every connection (headers and bodies, completed or cut off): what clients
    // really sent, so tests can bound what a resumed run sends again.
    const sockets = new Set<import('node:net').Socket>();
    let closedBytes = 0;
    server.on('connection', (socket) => {
      sockets.add(socket);
      socket.once('close', () => {
        sockets.delete(socket);
        closedBytes += socket.bytesRead;
      });
    });
    stats.wireBytes = () => [...sockets].reduce((n, s) => n + s.bytesRead, closedBytes);
    const listenPort = opts.port ?? 0;
    await new Promise<void>((ok, fail) => {
      server.once('error', fail);
      server.listen(listenPort, host, () => {
        server.off('error', fail);
        ok();
      });
    });
    const port = (server.address() as AddressInfo).port;
    const origin = (opts.publicUrl ?? `http://${originHost(host)}:${port}`).replace(/\/+$/, '');
    const originHostname = new URL(origin).hostname;

    const core: SandboxCore = {
      origin,
      dataDir,
      store,
      stats,
      processMsPerImage,
      checkAuth,
      log,
      signal: closing.signal,
      track(work) {
        const p = work.catch((err) => log(`background work failed: ${String((err as Error)?.message ?? err)}`));
        background.add(p);
        void p.finally(() => background.delete(p));
      },
      isAllowedFetchHost: (hostname) => isLoopback(hostname) || hostname === originHostname,
      cdnUrl: (sha256, ext) => `${origin}/cdn/${sha256}${ext ? `.${ext}` : ''}`,
      presignTtlSec,
      partFaults,
      aihub: opts.aihub,
    };

    const router = new Router();
    const protocols: Protocol[] = [];
    try {
      for (const factory of PROTOCOLS) {
        const p = await factory(core);
        protocols.push(p);
        if (p.batchCount) stats.registerBatchCounter(p.batchCount.bind(p));
        for (const r of p.routes) router.add(r, p);
      }
    } catch (err) {
      closing.abort();
      server.close();
      throw err;
    }
    for (const r of builtinRoutes(core, protocols)) router.add(r);

    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      const p = handle(req, res).catch((err) => log(`request handler crashed: ${String((err as Error)?.message ?? err)}`));
      inflight.add(p);
      void p.finally(() => inflight.delete(p));
    });
    // A client that resets mid-upload must not crash the server.
    server.on('clientError', (_err, socket) => socket.destroy());

    async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
      const started = Date.now();
      const method = (req.method ?? 'GET').toUpperCase();
      let url: URL;
      try {
        url = new URL(req.url ?? '/', 'http://sandbox.invalid');
      } catch {
        url = new URL('http://sandbox.invalid/');
      }
      let fault: FaultKind | null = null;
      let routeName = '-';
      res.on('close', () => {
        const status = res.headersSent ? String(res.statusCode) : 'no-response';
        log(`${method} ${url.pathname} ${status} ${Date.now() - started}ms ${routeName}${fault ? ` fault=${fault}` : ''}`);
      });

      const m = router.match(method, url.pathname);
      if (!m || 'methodNotAllowed' in m) {
        stats.request(m ? 'method-not-allowed' : 'not-found');
        const status = m ? 405 : 404;
        const body = JSON.stringify({ code: status, message: m ? 'Method not allowed.' : 'Not found.' });
        res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
        res.end(body);
        return;
      }
      const { hit, params } = m;
      routeName = hit.route.name;
      if (hit.route.counted !== false) stats.request(hit.route.name);
      const ctx = new RequestContext(req, res, url, params, hit.route, hit.protocol, core);
      const errorBody = (status: number, message: string) =>
        hit.protocol?.errorBody?.(status, message) ?? { code: status, message };

      if (hit.route.faults) fault = faults.next();
      if (fault) {
        stats.fault(fault);
        ctx.fault = fault;
        switch (fault) {
          case '500':
            return ctx.json(500, errorBody(500, 'Internal server error (injected by the sandbox).'));
          case '503':
            return ctx.json(503, errorBody(503, 'Service unavailable (injected by the sandbox).'));
          case '429':
            return ctx.json(429, errorBody(429, 'Too many requests (injected by the sandbox).'), {
              'retry-after': String(faults.options.retryAfterSec),
            });
          case 'reset':
          case 'cut':
            await readSome(req);
            ctx.destroy();
            return;
          case 'slow':
            ctx.delayMs = faults.options.slowMs;
            break;
          case 'lost':
            ctx.lost = true;
            break;
        }
      }

      try {
        await hit.route.handle(ctx);
        if (!res.headersSent && !ctx.gone && !ctx.lost) {
          await ctx.json(500, errorBody(500, 'The sandbox route gave no answer.'));
        }
      } catch (err) {
        log(`${hit.route.name} failed: ${String((err as Error)?.stack ?? err)}`);
        if (!res.headersSent && !ctx.gone) {
          ctx.delayMs = 0;
          await ctx.json(500, errorBody(500, `Internal sandbox error: ${(err as Error)?.message ?? String(err)}`));
        }
      }
    }

    let closed: Promise<void> | undefined;
    return {
      url: origin,
      bachEndpoint: `${origin}/api/vdr`,
      dataDir,
      stats: () => stats.snapshot(),
      close() {
        closed ??= (async () => {
          closing.abort();
          const serverClosed = new Promise<void>((ok) => server.close(() => ok()));
          server.closeAllConnections();
          await serverClosed;
          await Promise.allSettled([...inflight]);
          await Promise.allSettled([...background]);
          for (const p of protocols) await p.close?.();
          if (ownDir) await rm(dataDir, { recursive: true, force: true });
        })();
        return closed;
      },
    };
  };
  try {
    return await boot();
  } catch (err) {
    if (ownDir) await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
}

function builtinRoutes(core: SandboxCore, protocols: Protocol[]): Route[] {
  return [
    {
      method: 'GET',
      path: '/_sandbox/health',
      name: 'sandbox.health',
      counted: false,
      handle: (ctx) => ctx.json(200, { status: 'ok' }),
    },
    {
      method: 'GET',
      path: '/_sandbox/stats',
      name: 'sandbox.stats',
      counted: false,
      handle: (ctx) => ctx.json(200, core.stats.snapshot()),
    },
    {
      method: 'GET',
      path: '/_sandbox/batches/:id',
      name: 'sandbox.batch',
      counted: false,
      async handle(ctx) {
        for (const p of protocols) {
          const info = p.inspectBatch?.(ctx.params.id!);
          if (info !== undefined) return ctx.json(200, info);
        }
        return ctx.json(404, { code: 404, message: `No batch '${ctx.params.id}'.` });
      },
    },
    {
      method: 'GET',
      path: '/cdn/:file',
      name: 'cdn',
      async handle(ctx) {
        const m = /^([0-9a-f]{64})(?:\.([A-Za-z0-9]{1,10}))?$/.exec(ctx.params.file!);
        const size = m ? core.store.sizeOf(m[1]!) : undefined;
        if (!m || size === undefined) return ctx.json(404, { code: 404, message: 'Not found.' });
        const sha = m[1]!;
        return ctx.send(
          200,
          {
            'content-type': contentTypeOf(m[2] ?? ''),
            'content-length': size,
            etag: `"${sha}"`,
            'cache-control': 'public, max-age=2592000, immutable',
          },
          ctx.req.method === 'HEAD' ? undefined : core.store.read(sha),
        );
      },
    },
  ];
}

/** Reads a little of the body (or waits for its end) before a 'reset' fault cuts the connection. */
function readSome(req: IncomingMessage): Promise<void> {
  return new Promise((ok) => {
    const done = () => {
      clearTimeout(t);
      ok();
    };
    const t = setTimeout(done, 200);
    req.once('data', done);
    req.once('end', done);
    req.once('error', done);
    req.once('close', done);
  });
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
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

function originHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return isIP(host) === 6 ? `[${host}]` : host;
}

export function isLoopback(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost') || h === '::1') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (h.startsWith('::ffff:')) return isLoopback(h.slice(7));
  return false;
}
