export { startSandbox, isLoopback } from './server.js';
export type {
  Sandbox,
  SandboxOptions,
  SandboxCore,
  Protocol,
  ProtocolFactory,
  Route,
  RequestContext,
} from './server.js';
export type { SandboxStats } from './stats.js';
export { FAULT_KINDS, DEFAULT_FAULTS, mulberry32 } from './faults.js';
export type { FaultKind, FaultOptions } from './faults.js';
export { BACH_BASE } from './bach.js';
export type { BachBatch, BachItem } from './bach.js';
