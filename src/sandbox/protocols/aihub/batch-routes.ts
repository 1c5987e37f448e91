/** aihub's batch and file routes, and the delete jobs they start (`/api/v2/batches…`, `/api/v2/jobs/:id`). */
import { randomUUID } from 'node:crypto';
import { LIMITS, MESSAGES, SANDBOX, nameProblem } from '../../../providers/aihub/contract.js';
import type { RequestContext } from '../../kit/context.js';
import { AIHUB_BASE } from './paths.js';
import { fail, jsonBody } from './replies.js';
import type { AihubState, Job } from './state.js';

export function batchRoutes(s: AihubState) {
  const { core } = s;
  return {
    async createBatch(ctx: RequestContext): Promise<void> {
      if (!(await s.enter(ctx))) return;
      const body = await jsonBody(ctx);
      if (!body) return;
      const name = body.name;
      if (typeof name !== 'string' || name.trim() === '') return fail(ctx, 400, MESSAGES.nameRequired);
      if ([...name].length > LIMITS.maxNameLength) return fail(ctx, 400, MESSAGES.nameTooLong);
      if (body.workspace !== undefined && body.workspace !== null && typeof body.workspace !== 'string') {
        return fail(ctx, 400, MESSAGES.invalidBody("'workspace' must be a string"));
      }
      const b = await s.createBatch(name, (body.workspace as string | undefined) ?? undefined, ctx);
      return ctx.json(200, { id: b.id });
    },

    async listBatches(ctx: RequestContext): Promise<void> {
      if (!(await s.enter(ctx))) return;
      const q = ctx.url.searchParams;
      const int = (k: string) => {
        const v = q.get(k);
        if (v === null || v === '') return undefined;
        return /^\d+$/.test(v) ? Number(v) : NaN;
      };
      const limit = int('limit');
      const offset = int('offset') ?? 0;
      if (Number.isNaN(limit) || Number.isNaN(offset)) return fail(ctx, 400, 'limit and offset must be non-negative integers.');
      const workspace = q.get('workspace');
      const username = q.get('username');
      let list = s.allBatches();
      if (workspace) list = list.filter((b) => b.workspace === workspace);
      if (username) list = list.filter(() => username === SANDBOX.owner);
      list = list.slice(offset, limit === undefined ? undefined : offset + limit);
      return ctx.json(200, { batches: list.map((b) => s.info(b)) });
    },

    async getBatch(ctx: RequestContext): Promise<void> {
      const b = await s.enterBatch(ctx);
      if (!b) return;
      return ctx.json(200, s.info(b));
    },

    async deleteBatch(ctx: RequestContext): Promise<void> {
      const b = await s.enterBatch(ctx);
      if (!b) return;
      const job: Job = { id: randomUUID(), created: core.now(), batch_id: b.id, outcome: 'COMPLETE', message: MESSAGES.jobComplete, applied: false };
      s.jobs.set(job.id, job);
      return ctx.json(202, { job_id: job.id });
    },

    async listFiles(ctx: RequestContext): Promise<void> {
      const b = await s.enterBatch(ctx);
      if (!b) return;
      const q = ctx.url.searchParams;
      const rawSize = q.get('page_size');
      let pageSize = s.opts.filesPageSize;
      if (rawSize !== null && rawSize !== '') {
        if (!/^\d+$/.test(rawSize) || Number(rawSize) < 1) return fail(ctx, 400, 'page_size must be a positive integer.');
        pageSize = Math.min(Number(rawSize), SANDBOX.filesMaxPageSize);
      }
      let after: string | undefined;
      const token = q.get('start_token');
      if (token) {
        try {
          after = Buffer.from(token, 'base64url').toString('utf8');
        } catch {
          return fail(ctx, 400, 'start_token is not valid.');
        }
      }
      const names = Object.keys(b.files).sort();
      const from = after === undefined ? 0 : names.findIndex((n) => n > after!);
      const slice = from < 0 ? [] : names.slice(from, from + pageSize);
      const hasMore = from >= 0 && from + pageSize < names.length;
      return ctx.json(200, {
        nodes: slice.map((n) => {
          const f = b.files[n]!;
          return { name: f.name, size: f.size, type: 'file', full_path: `${b.path_suffix}/${f.name}`, modified_timestamp: f.updated_at_ms };
        }),
        next_page_token: hasMore ? Buffer.from(slice[slice.length - 1]!, 'utf8').toString('base64url') : null,
        has_more: hasMore,
      });
    },

    async putFile(ctx: RequestContext): Promise<void> {
      const b = await s.enterBatch(ctx);
      if (!b) return;
      const name = ctx.params.filename!;
      if (nameProblem(name)) return fail(ctx, 400, MESSAGES.invalidFilename(name));
      if (ctx.req.headers['content-length'] === undefined) return fail(ctx, 411, 'Content-Length is required.');
      const ing = await s.ingestBody(ctx, LIMITS.maxFileSize);
      if (!ing) return ctx.destroy();
      if (ing.overLimit) {
        await core.store.discard(ing);
        return fail(ctx, 413, 'The file is too large.');
      }
      // The batch may have been deleted while the body streamed.
      if (s.batchOf(b.id) !== b) {
        await core.store.discard(ing);
        return fail(ctx, 404, MESSAGES.batchNotFound(String(b.id)));
      }
      await s.accept(b, name, ing, 'put');
      return ctx.send(204, {});
    },

    async deleteFile(ctx: RequestContext): Promise<void> {
      const b = await s.enterBatch(ctx);
      if (!b) return;
      const name = ctx.params.filename!;
      const exists = Object.hasOwn(b.files, name);
      const job: Job = {
        id: randomUUID(),
        created: core.now(),
        batch_id: b.id,
        filename: name,
        outcome: exists ? 'COMPLETE' : 'FAILED',
        message: exists ? MESSAGES.jobComplete : MESSAGES.fileNotFound(name),
        applied: false,
      };
      s.jobs.set(job.id, job);
      return ctx.send(202, { location: `${core.origin}${AIHUB_BASE}/batches/jobs/${job.id}` });
    },

    async getJob(ctx: RequestContext): Promise<void> {
      if (!(await s.enter(ctx))) return;
      const j = s.jobs.get(ctx.params.job_id!);
      if (!j) return fail(ctx, 404, MESSAGES.jobNotFound(ctx.params.job_id!));
      const state = s.jobState(j);
      return ctx.json(200, { state, message: state === j.outcome ? j.message : state === 'PENDING' ? 'Job is queued.' : 'Job is running.' });
    },
  };
}
