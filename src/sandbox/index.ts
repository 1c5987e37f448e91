/**
 * The sandbox's public entry: `startSandbox()` serves the default protocols (protocols/index.ts)
 * unless given a list of its own. The server itself (server.ts) takes the list as an argument and
 * knows no protocol.
 */
import type { ProtocolDefinition } from './kit/protocol.js';
import { DEFAULT_PROTOCOLS, type DefaultProtocolOptions, type SandboxStats } from './protocols/index.js';
import { startSandbox as startServer, type Sandbox as ServedSandbox, type SandboxOptions as ServerOptions } from './server.js';

export type SandboxOptions = Omit<ServerOptions, 'protocols' | 'protocolOptions'> & {
  /** Default: DEFAULT_PROTOCOLS (every protocol batchup speaks). */
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

export type { SandboxStats } from './protocols/index.js';
export type { FaultKind } from './kit/faults.js';
