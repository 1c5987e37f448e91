/**
 * Counters a test reads to prove that nothing was lost or stored twice (`GET /_sandbox/stats`).
 * The generic ones are fields here; a service or a protocol adds a section of its own under its
 * name (`throttle`, `webhooks`, `hybrid`, `aihub`…), read when a snapshot is taken.
 */
import type { ThrottleStats } from './throttle.js';
import type { WebhookStats } from './webhooks.js';

export interface StatsSnapshot {
  /** Distinct content objects stored. */
  objects: number;
  bytesStored: number;
  /** sha256 -> how many times content with that hash was accepted (into a batch, a file name, a record). */
  receipts: Record<string, number>;
  /** Route name -> count (e.g. 'bach.submit-with-files', 'bach.status', 'cdn'). */
  requests: Record<string, number>;
  faultsInjected: Record<string, number>;
  batches: number;
  /** Bytes read from all client connections (headers and bodies, finished or cut off). */
  bytesReceived: number;
  /** Requests whose route handler has not returned yet (a cut-off upload is cleaned up by then). */
  handling: number;
  throttle: ThrottleStats;
  webhooks: WebhookStats;
}

export class Stats {
  objects = 0;
  bytesStored = 0;
  readonly receipts = new Map<string, number>();
  readonly requests = new Map<string, number>();
  readonly faults = new Map<string, number>();
  /** Set by the server: requests it has not finished handling. */
  inFlight: () => number = () => 0;
  /** Set by the server: bytes read from client connections so far. */
  wireBytes: () => number = () => 0;
  /** Each protocol reports its batch count; summed in the snapshot. */
  private readonly batchCounters: Array<() => number> = [];
  private readonly sections = new Map<string, () => unknown>();

  addObject(bytes: number): void {
    this.objects += 1;
    this.bytesStored += bytes;
  }

  receipt(sha256: string): void {
    bump(this.receipts, sha256);
  }

  request(route: string): void {
    bump(this.requests, route);
  }

  fault(kind: string): void {
    bump(this.faults, kind);
  }

  registerBatchCounter(count: () => number): void {
    this.batchCounters.push(count);
  }

  /** Adds `snapshot()` under `name` in every snapshot; a name is taken once. */
  addSection(name: string, snapshot: () => unknown): void {
    if (this.sections.has(name) || GENERIC_KEYS.has(name)) throw new Error(`stats section '${name}' is taken`);
    this.sections.set(name, snapshot);
  }

  snapshot(): StatsSnapshot & Record<string, unknown> {
    const base = {
      objects: this.objects,
      bytesStored: this.bytesStored,
      receipts: Object.fromEntries(this.receipts),
      requests: Object.fromEntries(this.requests),
      faultsInjected: Object.fromEntries(this.faults),
      batches: this.batchCounters.reduce((n, f) => n + f(), 0),
      bytesReceived: this.wireBytes(),
      handling: this.inFlight(),
    };
    const sections = Object.fromEntries([...this.sections].map(([name, read]) => [name, read()]));
    return { ...base, ...sections } as StatsSnapshot & Record<string, unknown>;
  }
}

const GENERIC_KEYS = new Set(['objects', 'bytesStored', 'receipts', 'requests', 'faultsInjected', 'batches', 'bytesReceived', 'handling']);

function bump(m: Map<string, number>, key: string): void {
  m.set(key, (m.get(key) ?? 0) + 1);
}
