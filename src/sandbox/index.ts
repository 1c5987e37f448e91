/**
 * The sandbox's public entry: `startSandbox()` serves the default protocols (protocols/index.ts)
 * unless given a list of its own. The server itself (server.ts) takes the list as an argument and
 * knows no protocol.
 */
import type { ProtocolDefinition } from './kit/protocol.js';
import { DEFAULT_PROTOCOLS, type DefaultProtocolOptions, type SandboxStats } from './protocols/index.js';
import { startSandbox as startServer, type Sandbox as ServedSandbox, type SandboxOptions as ServerOptions } from './server.js';

export type SandboxOptions = Omit<ServerOptions, 'protocols' | 'protocolOptions'> & {
  /** Default: DEFAULT_PROTOCOLS (bach, hybrid, aihub). */
  protocols?: readonly ProtocolDefinition[];
  /** Each protocol's own settings, under its name, e.g. `{ hybrid: { presignTtlSec: 1 } }`. */
  protocolOptions?: DefaultProtocolOptions & Readonly<Record<string, object | undefined>>;
};

export interface Sandbox extends ServedSandbox<SandboxStats> {
  /** `endpoints.bach` (kept for the callers from before `endpoints`). */
  bachEndpoint: string;
}

export async function startSandbox(opts: SandboxOptions = {}): Promise<Sandbox> {
  const sb = await startServer({ ...opts, protocols: opts.protocols ?? DEFAULT_PROTOCOLS });
  return { ...sb, stats: () => sb.stats() as SandboxStats, bachEndpoint: sb.endpoints.bach ?? `${sb.url}/api/vdr` };
}

export type { ServedProtocol } from './server.js';
export { DEFAULT_PROTOCOLS, type DefaultProtocolOptions, type SandboxStats } from './protocols/index.js';
export type { Protocol, ProtocolDefinition, Route, SandboxCore } from './kit/protocol.js';
export type { RequestContext } from './kit/context.js';
export type { StatsSnapshot } from './kit/stats.js';
export { isLoopback } from './kit/net.js';
export { FAULT_KINDS, DEFAULT_FAULTS, mulberry32 } from './kit/faults.js';
export type { FaultKind, FaultOptions } from './kit/faults.js';
export { BACH_BASE } from './protocols/bach/index.js';
export type { BachBatch, BachItem } from './protocols/bach/index.js';
export type { HybridOptions, HybridStats } from './protocols/hybrid/index.js';
export type { AihubOptions, AihubStats } from './protocols/aihub/index.js';
