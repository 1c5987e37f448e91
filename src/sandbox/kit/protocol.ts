/**
 * The seam between the sandbox server and the protocols it serves (rclone's `fs.RegInfo` idea):
 * a protocol is a {@link ProtocolDefinition} — name, endpoint, summary, options — whose `create`
 * builds the routes over the shared services of {@link SandboxCore}. The server receives the list;
 * protocols import the kit, never the server.
 */
import type { AuthCheck } from './auth.js';
import type { RequestContext } from './context.js';
import type { FaultInjector, FaultKind, FaultOptions } from './faults.js';
import type { OutboundFetch } from './fetch.js';
import type { Clock } from './job-clock.js';
import type { OptionSpecs } from './options.js';
import type { Stats } from './stats.js';
import type { ContentStore } from './store.js';
import type { WebhookSender } from './webhooks.js';

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

/** What a running protocol gives the server. */
export interface Protocol<S = unknown> {
  routes: Route[];
  /** Body of an error the server answers by itself on this protocol's routes (faults, crashes). */
  errorBody?(status: number, message: string): unknown;
  /** Everything stored about one batch, for tests (`GET /_sandbox/batches/:id`). */
  inspectBatch?(id: string): unknown;
  batchCount?(): number;
  /** This protocol's own counters, shown under its name in `/_sandbox/stats`. */
  stats?(): S;
  close?(): Promise<void>;
}

/** The shared services a protocol is built on. */
export interface SandboxCore {
  /** Origin used in URLs handed out, no trailing slash. */
  readonly origin: string;
  readonly dataDir: string;
  readonly store: ContentStore;
  readonly stats: Stats;
  /** The job pace: how long the sandbox "works" on one item of an asynchronous job (ms). */
  readonly processMsPerImage: number;
  readonly checkAuth: AuthCheck;
  readonly log: (line: string) => void;
  /** The time every job clock and rate window reads (Date.now unless a test injects one). */
  readonly now: Clock;
  /** Aborted when the sandbox closes: background work stops. */
  readonly signal: AbortSignal;
  /** Registers background work that close() waits for. */
  track(work: Promise<unknown>): void;
  /** Hosts the sandbox may fetch from or post to (loopback only, plus its own host). */
  isAllowedFetchHost(hostname: string): boolean;
  /** URL of a stored object: `${origin}/cdn/<sha256>.<ext>`. */
  cdnUrl(sha256: string, ext: string): string;
  /** Downloads on a client's behalf (http(s), allowed hosts, redirects, size cap). */
  readonly fetch: OutboundFetch;
  /** POSTs of JSON to clients' webhook URLs (in order per key, 5 s timeout, no retries). */
  readonly webhooks: WebhookSender;
  /** The API fault settings (Retry-After, slow delay), for faults a protocol injects itself. */
  readonly faultOptions: Readonly<FaultOptions>;
  /** A fault sequence of the protocol's own (seed + `offset`), e.g. for uploads of parts. */
  faultSequence(rate: number, kinds: readonly FaultKind[], offset: number): FaultInjector;
}

// biome-ignore lint/suspicious/noExplicitAny: a list holds definitions of every options type
export interface ProtocolDefinition<N extends string = string, O = any, S = unknown> {
  readonly name: N;
  /** Where the contract's paths are relative to on the sandbox's origin: '/api/vdr', '/api', '' (the origin). */
  readonly endpointPath: string;
  /** One line for `batchup serve --help`: what it speaks. */
  readonly summary: string;
  /** Its settings (and `batchup serve` flags); `SandboxOptions.protocolOptions[name]` sets them in code. */
  readonly options: OptionSpecs<O>;
  /** Whether these settings inject faults (the CLI then picks a seed to print, for a replay). */
  injectsFaults?(options: Partial<O>): boolean;
  /** Its part of the banner's faults line, e.g. 'part rate 0.1, part kinds cut'. */
  describeFaults?(options: O): string;
  /** Builds the running protocol (loading its code only now: `--help` never does). */
  create(core: SandboxCore, options: O): Promise<Protocol<S>>;
}

/** Identity, for inference of a definition's name, options and stats types. */
export function defineProtocol<N extends string, O, S>(d: ProtocolDefinition<N, O, S>): ProtocolDefinition<N, O, S> {
  return d;
}

export type OptionsOf<D> = D extends ProtocolDefinition<string, infer O, unknown> ? O : never;
export type StatsOf<D> = D extends ProtocolDefinition<string, unknown, infer S> ? S : never;

/** `protocolOptions` for a list of definitions: each protocol's settings under its name. */
export type ProtocolOptionsFor<L extends readonly ProtocolDefinition[]> = {
  [D in L[number] as D['name']]?: Partial<OptionsOf<D>>;
};

/** The per-protocol sections of the stats snapshot for a list (protocols without stats leave none). */
export type ProtocolStatsFor<L extends readonly ProtocolDefinition[]> = {
  [D in L[number] as unknown extends StatsOf<D> ? never : D['name']]: StatsOf<D>;
};
