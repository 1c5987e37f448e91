/**
 * The protocols the sandbox serves, each one file. Their paths do not collide, so they share one
 * router, store, fault injector and stats. To add one (hybrid, aihub, claid, blurb): write
 * `src/sandbox/<name>.ts` exporting a ProtocolFactory and list it here.
 */
import { createAihubProtocol } from './aihub.js';
import { createBachProtocol } from './bach.js';
import { createHybridProtocol } from './hybrid.js';
import type { ProtocolFactory } from './server.js';

export const PROTOCOLS: readonly ProtocolFactory[] = [createBachProtocol, createHybridProtocol, createAihubProtocol];
