/**
 * The batch routes: `POST /v1/image/edit/batch` (input: one URL, a storage URI, a list of URLs,
 * or `{source, recursive}`), `GET /v1/image/edit/batch/{id}`, and `GET /v1/storage/storages`.
 * A key without the `storage` scope gets 403 wherever a storage is involved, and only there.
 */
import {
  CALLS_PER_IMAGE,
  ERRORS,
  MESSAGES,
  type Problem,
  destinationOf,
  operationsProblem,
  outputProblem,
  parseStorageUri,
} from '../../../providers/claid/contract.js';
import type { RequestContext } from '../../kit/context.js';
import { readJsonOr } from '../../kit/json-body.js';
import { type Reply, admit } from './gate.js';
import type { ClaidState } from './state.js';
import type { ClaidBatch } from './types.js';

/** A contract problem as the server answers it: request validation (`detail`) or a rule (9000). */
export function problemReply(reply: Reply, p: Problem): Promise<void> {
  if (p.kind === 'value') return reply.invalid(p.message, p.path.join('.'));
  return reply.detail(['body', ...p.path], p.message, p.kind === 'extra' ? 'value_error.extra' : 'type_error');
}

type Input = { urls: string[] } | { storage: string; recursive: boolean };

const isHttp = (v: unknown): v is string => typeof v === 'string' && /^https?:\/\/[^/\s]+/i.test(v);

/** The batch's input in one of its four documented shapes, or what is wrong with it. */
function parseInput(v: unknown): Input | Problem {
  const storage = (uri: unknown, recursive: unknown): Input | Problem =>
    typeof uri === 'string' && parseStorageUri(uri)
      ? { storage: uri, recursive: recursive === true }
      : { kind: 'value', path: ['input'], message: MESSAGES.badStorageUri(String(uri)) };
  if (isHttp(v)) return { urls: [v] };
  if (typeof v === 'string') return storage(v, false);
  if (Array.isArray(v)) {
    if (v.length === 0) return { kind: 'type', path: ['input'], message: 'ensure this value has at least 1 items' };
    const bad = v.findIndex((u) => !isHttp(u));
    return bad >= 0 ? { kind: 'type', path: ['input', String(bad)], message: 'invalid or missing URL scheme' } : { urls: v as string[] };
  }
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o)) if (k !== 'source' && k !== 'recursive') return { kind: 'extra', path: ['input', k], message: MESSAGES.extraField };
    if (o.recursive !== undefined && typeof o.recursive !== 'boolean')
      return { kind: 'type', path: ['input', 'recursive'], message: 'value could not be parsed to a boolean' };
    return storage(o.source, o.recursive);
  }
  return {
    kind: 'type',
    path: ['input'],
    message: v === undefined ? MESSAGES.fieldRequired : 'must be a URL, a storage URI, a list of URLs or {source, recursive}',
  };
}

const nameOfUrl = (url: string): string => {
  try {
    return decodeURIComponent(new URL(url).pathname.split('/').filter(Boolean).pop() ?? '') || 'image';
  } catch {
    return 'image';
  }
};

export function batchRoutes(st: ClaidState) {
  return {
    async create(ctx: RequestContext): Promise<void> {
      const reply = await admit(ctx, st.limiter, st.stats);
      if (!reply) return;
      const body = await readJsonOr(ctx, (err) => reply.detail(['body'], err.message, 'value_error.jsondecode'));
      if (!body) return;
      for (const k of Object.keys(body))
        if (!['input', 'operations', 'output'].includes(k)) return reply.detail(['body', k], MESSAGES.extraField, 'value_error.extra');
      const input = parseInput(body.input);
      const problem = ('kind' in input ? input : undefined) ?? operationsProblem(body.operations) ?? outputProblem(body.output);
      if (problem) return problemReply(reply, problem);
      const ok = input as Input;
      const destination = destinationOf(body.output);
      if (destination && !parseStorageUri(destination)!.folder) return reply.invalid(MESSAGES.destinationNotFolder, 'output');
      const named = [...('storage' in ok ? [ok.storage] : []), ...(destination ? [destination] : [])];
      if (named.length && !st.opts.scopes.includes('storage')) return reply.error(ERRORS.forbidden);
      for (const uri of named) {
        const name = parseStorageUri(uri)!.storage;
        if (!(await st.storages.has(name))) return reply.invalid(MESSAGES.storageUnknown(name), uri === destination ? 'output' : 'input');
      }
      const inputs: ClaidBatch['inputs'] =
        'urls' in ok ? ok.urls.map((url) => ({ url, name: nameOfUrl(url) })) : await st.folderInputs(ok.storage, ok.recursive);
      if (!st.charge(inputs.length * CALLS_PER_IMAGE)) return reply.error(ERRORS.noCallsLeft);
      const b = await st.create(body, inputs);
      return reply.ok(st.view(b));
    },

    async get(ctx: RequestContext): Promise<void> {
      const reply = await admit(ctx, st.limiter, st.stats);
      if (!reply) return;
      const id = ctx.params.id!;
      if (!/^\d+$/.test(id)) return reply.detail(['path', 'task_id'], MESSAGES.notAnInteger, 'type_error.integer');
      const b = st.batch(String(Number(id)));
      if (!b) return reply.error(ERRORS.notFound);
      return reply.ok(st.view(b));
    },

    async storages(ctx: RequestContext): Promise<void> {
      const reply = await admit(ctx, st.limiter, st.stats);
      if (!reply) return;
      if (!st.opts.scopes.includes('storage')) return reply.error(ERRORS.forbidden);
      return reply.ok(await st.storages.list());
    },
  };
}
