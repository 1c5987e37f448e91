/**
 * The sandbox HTTP server: lifecycle, routing, fault injection and throttle accounting, over the
 * protocols it is handed (`startSandbox({ protocols })`; the default list is in
 * protocols/index.ts). Everything a protocol builds on is the kit (./kit/); this file knows no
 * protocol by name.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { AddressInfo, Socket } from 'node:net';
import { builtinRoutes } from './builtin-routes.js';
import { CDN_OPTIONS } from './kit/cdn.js';
import { createAuthCheck } from './kit/auth.js';
import { RequestContext, type ContextServices } from './kit/context.js';
import { FaultInjector, type FaultKind, type FaultOptions } from './kit/faults.js';
import { OutboundFetch } from './kit/fetch.js';
import type { Clock } from './kit/job-clock.js';
import { isLoopbackHost as isLoopback } from '../core/loopback.js';
import { originHost } from './kit/net.js';
import { resolveOptions } from './kit/options.js';
import type { Protocol, ProtocolDefinition, SandboxCore } from './kit/protocol.js';
import { Stats, type StatsSnapshot } from './kit/stats.js';
import { ContentStore } from './kit/store.js';
import { LoopLag, ThrottleLedger } from './kit/throttle.js';
import { WebhookSender } from './kit/webhooks.js';
import { Router } from './router.js';

export interface SandboxOptions {
  /** The protocols to serve (their paths must not collide). */
  protocols: readonly ProtocolDefinition[];
  /** Each protocol's own settings, under its name (see its definition's `options`). */
  protocolOptions?: Readonly<Record<string, object | undefined>>;
  /** Default 127.0.0.1 (loopback only unless told). */
  host?: string;
  /** Default 0 = a free port. */
  port?: number;
  /** Default: a fresh temp dir, removed again on close. */
  dataDir?: string;
  faults?: Partial<FaultOptions>;
  /** The job pace: async processing per item (bach images, aihub run files); default 5 ms. */
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
  /** The time job states, rate windows and throttle windows read (tests inject one); default Date.now. */
  clock?: Clock;
  /** `/cdn/` URLs answer 410 this many seconds after their object was stored (--cdn-ttl); 0 or none: never. */
  cdnTtlSec?: number;
}

export interface ServedProtocol {
  name: string;
  /** The base its contract's paths are relative to (the `--endpoint` a client uses). */
  endpoint: string;
  summary: string;
}

export interface Sandbox<S = StatsSnapshot> {
  /** Origin, e.g. http://127.0.0.1:43123, no trailing slash. */
  url: string;
  /** Each protocol's endpoint, by name. */
  endpoints: Record<string, string>;
  protocols: ServedProtocol[];
  dataDir: string;
  stats(): S;
  close(): Promise<void>;
}

const DEFAULT_PROCESS_MS = 5;

export async function startSandbox(opts: SandboxOptions): Promise<Sandbox> {
  const host = opts.host ?? '127.0.0.1';
  // Validate everything before touching the disk.
  const faults = new FaultInjector(opts.faults);
  const checkAuth = createAuthCheck(opts);
  const processMsPerImage = opts.processMsPerImage ?? DEFAULT_PROCESS_MS;
  const cdnTtlSec = opts.cdnTtlSec ? CDN_OPTIONS.ttlSec.check(opts.cdnTtlSec, 'cdnTtlSec') : 0;
  if (!(processMsPerImage >= 0)) throw new RangeError('processMsPerImage must be >= 0');
  const definitions = [...opts.protocols];
  const resolved = resolveAllOptions(definitions, opts.protocolOptions ?? {});
  const log = opts.log ?? (() => undefined);
  const now = opts.clock ?? Date.now;
  const stats = new Stats();
  const throttle = new ThrottleLedger(now);

  const ownDir = opts.dataDir === undefined;
  const dataDir = ownDir ? await mkdtemp(join(tmpdir(), 'batchup-sandbox-')) : resolve(opts.dataDir!);
  const boot = async (): Promise<Sandbox> => {
    await mkdir(dataDir, { recursive: true });
    const store = await ContentStore.open(dataDir, stats, now);
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
    const sockets = new Set<Socket>();
    let closedBytes = 0;
    server.on('connection', (socket) => {
      sockets.add(socket);
      socket.once('close', () => {
        sockets.delete(socket);
        closedBytes += socket.bytesRead;
      });
    });
    stats.wireBytes = () => [...sockets].reduce((n, s) => n + s.bytesRead, closedBytes);
    await new Promise<void>((ok, fail) => {
      server.once('error', fail);
      server.listen(opts.port ?? 0, host, () => {
        server.off('error', fail);
        ok();
      });
    });
    const port = (server.address() as AddressInfo).port;
    const origin = (opts.publicUrl ?? `http://${originHost(host)}:${port}`).replace(/\/+$/, '');
    const originHostname = new URL(origin).hostname;
    const isAllowedFetchHost = (hostname: string) => isLoopback(hostname) || hostname === originHostname;
    const webhooks = new WebhookSender({ isAllowedHost: isAllowedFetchHost, signal: closing.signal, now });
    stats.addSection('throttle', () => throttle.snapshot());
    stats.addSection('webhooks', () => webhooks.snapshot());

    const core: SandboxCore = {
      origin,
      dataDir,
      store,
      stats,
      processMsPerImage,
      checkAuth,
      log,
      now,
      signal: closing.signal,
      track(work) {
        const p = work.catch((err) => log(`background work failed: ${String((err as Error)?.message ?? err)}`));
        background.add(p);
        void p.finally(() => background.delete(p));
      },
      isAllowedFetchHost,
      cdnUrl: (sha256, ext) => `${origin}/cdn/${sha256}${ext ? `.${ext}` : ''}`,
      fetch: new OutboundFetch(store, { isAllowedHost: isAllowedFetchHost, signal: closing.signal }),
      webhooks,
      faultOptions: faults.options,
      faultSequence: (rate, kinds, offset) => faults.derive(rate, kinds, offset),
    };

    const router = new Router();
    const protocols: Protocol[] = [];
    try {
      for (const [i, def] of definitions.entries()) {
        const p = await def.create(core, resolved[i]);
        protocols.push(p);
        if (p.batchCount) stats.registerBatchCounter(p.batchCount.bind(p));
        if (p.stats) stats.addSection(def.name, p.stats.bind(p));
        for (const r of p.routes) router.add(r, p);
      }
    } catch (err) {
      closing.abort();
      server.close();
      for (const p of protocols) await p.close?.().catch(() => undefined);
      throw err;
    }
    for (const r of builtinRoutes(core, protocols, { ttlSec: cdnTtlSec })) router.add(r);

    const lag = new LoopLag(closing.signal);
    throttle.lagMs = () => lag.ms;
    const services: ContextServices = {
      checkAuth,
      signal: closing.signal,
      answered: (status, headers) => throttle.answered(status, headers),
    };
    const dispatch = createDispatcher({ router, stats, faults, throttle, services, log, now });
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      const p = dispatch(req, res).catch((err) => log(`request handler crashed: ${String((err as Error)?.message ?? err)}`));
      inflight.add(p);
      void p.finally(() => inflight.delete(p));
    });
    // A client that resets mid-upload must not crash the server.
    server.on('clientError', (_err, socket) => socket.destroy());
    stats.inFlight = () => inflight.size;

    let closed: Promise<void> | undefined;
    return {
      url: origin,
      endpoints: Object.fromEntries(definitions.map((d) => [d.name, `${origin}${d.endpointPath}`])),
      protocols: definitions.map((d) => ({ name: d.name, endpoint: `${origin}${d.endpointPath}`, summary: d.summary })),
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
          await webhooks.idle();
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

/** Every protocol's options resolved (defaults, checks), in list order; unknown names refused. */
function resolveAllOptions(definitions: ProtocolDefinition[], given: Readonly<Record<string, object | undefined>>): unknown[] {
  const names = new Set<string>();
  for (const d of definitions) {
    if (names.has(d.name)) throw new RangeError(`protocol '${d.name}' is listed twice`);
    names.add(d.name);
  }
  for (const name of Object.keys(given)) {
    if (!names.has(name)) throw new RangeError(`protocolOptions names '${name}', which is not served (served: ${[...names].join(', ')})`);
  }
  return definitions.map((d) => resolveOptions(d.name, d.options, (given[d.name] ?? {}) as Record<string, unknown>));
}

interface DispatchDeps {
  router: Router;
  stats: Stats;
  faults: FaultInjector;
  throttle: ThrottleLedger;
  services: ContextServices;
  log: (line: string) => void;
  now: Clock;
}

/** One request: match, count, maybe inject a fault, run the route, and answer for a route that did not. */
function createDispatcher(d: DispatchDeps) {
  return async function dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const arrived = d.now();
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
      d.log(`${method} ${url.pathname} ${status} ${Date.now() - started}ms ${routeName}${fault ? ` fault=${fault}` : ''}`);
    });

    const m = d.router.match(method, url.pathname);
    if (!m || 'methodNotAllowed' in m) {
      d.stats.request(m ? 'method-not-allowed' : 'not-found');
      const status = m ? 405 : 404;
      const body = JSON.stringify({ code: status, message: m ? 'Method not allowed.' : 'Not found.' });
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
      res.end(body);
      return;
    }
    const { hit, params } = m;
    routeName = hit.route.name;
    if (hit.route.counted !== false) d.stats.request(hit.route.name);
    if (hit.route.faults) d.throttle.requestArrived(arrived);
    const ctx = new RequestContext(req, res, url, params, d.services);
    const errorBody = (status: number, message: string) => hit.protocol?.errorBody?.(status, message) ?? { code: status, message };

    if (hit.route.faults) fault = d.faults.next();
    if (fault) {
      d.stats.fault(fault);
      ctx.fault = fault;
      switch (fault) {
        case '500':
          return ctx.json(500, errorBody(500, 'Internal server error (injected by the sandbox).'));
        case '503':
          return ctx.json(503, errorBody(503, 'Service unavailable (injected by the sandbox).'));
        case '429':
          return ctx.json(429, errorBody(429, 'Too many requests (injected by the sandbox).'), {
            'retry-after': String(d.faults.options.retryAfterSec),
          });
        case 'reset':
        case 'cut':
          await readSome(req);
          ctx.destroy();
          return;
        case 'slow':
          ctx.delayMs = d.faults.options.slowMs;
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
      d.log(`${hit.route.name} failed: ${String((err as Error)?.stack ?? err)}`);
      if (!res.headersSent && !ctx.gone) {
        ctx.delayMs = 0;
        await ctx.json(500, errorBody(500, `Internal sandbox error: ${(err as Error)?.message ?? String(err)}`));
      }
    }
  };
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
