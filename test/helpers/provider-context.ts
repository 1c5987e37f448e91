/**
 * A ProviderContext for driving a provider module directly (unit tests): real Http with the
 * given token for the endpoint's origin, an in-memory state, and a record of what was settled.
 */
import { credentialsFor } from '../../src/core/credentials.js';
import type { BatchupEvent } from '../../src/core/events.js';
import { Http } from '../../src/core/http.js';
import type { ManifestEntry } from '../../src/core/manifest.js';
import { DEFAULT_MAX_MEMORY, MemoryBudget } from '../../src/core/memory.js';
import type { ProviderContext } from '../../src/core/provider.js';
import type { RetryPolicy } from '../../src/core/retry.js';
import type { Item } from '../../src/core/types.js';

export interface TestContext<O> extends ProviderContext<O> {
  events: BatchupEvent[];
  kv: Map<string, unknown>;
  settled: { item: Item; entries: ManifestEntry[] }[];
}

export function providerContext<O>(o: {
  endpoint: string;
  token: string;
  options: O;
  http?: Http;
  signal?: AbortSignal;
  kv?: Map<string, unknown>;
  retry?: Partial<RetryPolicy>;
  concurrency?: number;
  cwd?: string;
  onEvent?: (e: BatchupEvent) => void;
}): TestContext<O> {
  const kv = o.kv ?? new Map<string, unknown>();
  const events: BatchupEvent[] = [];
  const settled: TestContext<O>['settled'] = [];
  const emit = (e: BatchupEvent) => {
    events.push(e);
    o.onEvent?.(e);
  };
  return {
    endpoint: o.endpoint,
    http: o.http ?? new Http({ timeoutMs: 10_000, credentials: credentialsFor(o.endpoint, async () => `Bearer ${o.token}`) }),
    emit,
    signal: o.signal ?? new AbortController().signal,
    options: o.options,
    run: { concurrency: o.concurrency ?? 4, cwd: o.cwd ?? process.cwd(), poll: { initialMs: 20, maxMs: 200, timeoutMs: 60_000 } },
    retry: o.retry ?? { maxRetries: 2, baseMs: 1, capMs: 5 },
    now: Date.now,
    state: { get: (k) => kv.get(k) as never, put: (k, v) => (v === null ? kv.delete(k) : kv.set(k, v)) },
    memory: new MemoryBudget(DEFAULT_MAX_MEMORY),
    settle(item, entries, drop) {
      settled.push({ item, entries });
      for (const k of drop ?? []) kv.delete(k);
    },
    onRetry:
      (batchId, what) =>
      ({ attempt, delayMs, error }) =>
        emit({ type: 'retry', batchId, attempt, delayMs, error: what ? `${what}: ${error.message}` : error.message, code: error.code }),
    events,
    kv,
    settled,
  };
}
