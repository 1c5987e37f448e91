/**
 * aihub's app runs. A run snapshots the batch's files and stays RUNNING while the "app" works
 * through them (processMsPerImage each, at least runMinMs: kit/job-clock.ts), reporting one
 * document per file {name, size, detected_type}; results are paged, and list only the files
 * finished so far. Over an empty batch a run is FAILED at once.
 */
import { randomUUID } from 'node:crypto';
import { MESSAGES, SANDBOX, type RunInfo } from '../../../providers/aihub/contract.js';
import type { RequestContext } from '../../kit/context.js';
import { jobAt, stepsDone } from '../../kit/job-clock.js';
import { fail, jsonBody } from './replies.js';
import type { AihubState, Run } from './state.js';

export function runView(r: Run, now: number): RunInfo & Record<string, unknown> {
  const total = r.files.length;
  const walk = jobAt(r.created, [{ state: 'RUNNING', ms: r.durationMs }], 'COMPLETE', now);
  const finished = r.failed !== undefined || walk.done;
  const done = r.failed ? 0 : walk.done ? total : stepsDone(r.created, r.durationMs / Math.max(total, 1), total, now);
  return {
    id: r.id,
    status: r.failed !== undefined ? 'FAILED' : walk.state,
    start_timestamp: r.created,
    finish_timestamp: finished ? r.created + (r.failed ? 0 : r.durationMs) : null,
    msg: r.failed ?? (finished ? MESSAGES.runComplete : null),
    batch_id: r.batch_id,
    app_name: r.app_name ?? null,
    app_id: r.app_id ?? null,
    progress: { completed: done, total },
  };
}

export function runRoutes(st: AihubState) {
  const { core } = st;
  return {
    async startRun(ctx: RequestContext): Promise<void> {
      if (!(await st.enter(ctx))) return;
      const body = await jsonBody(ctx);
      if (!body) return;
      const appName = typeof body.app_name === 'string' && body.app_name ? body.app_name : undefined;
      const appId = typeof body.app_id === 'string' && body.app_id ? body.app_id : undefined;
      if (!appName && !appId) return fail(ctx, 400, MESSAGES.runNeedsApp);
      if (body.batch_id === undefined || body.batch_id === null) {
        return fail(ctx, 400, body.input_dir !== undefined ? MESSAGES.inputDirUnsupported : MESSAGES.runNeedsInput);
      }
      const b = st.batchOf(body.batch_id);
      if (!b) return fail(ctx, 404, MESSAGES.batchNotFound(String(body.batch_id)));
      st.noteBatch(ctx, b);
      const files = Object.values(b.files).sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
      const run: Run = {
        id: randomUUID(),
        app_name: appName,
        app_id: appId,
        batch_id: b.id,
        created: core.now(),
        durationMs: Math.max(SANDBOX.runMinMs, files.length * core.processMsPerImage),
        files: files.map((f) => ({ ...f })),
        failed: files.length === 0 ? MESSAGES.runEmptyBatch : undefined,
      };
      st.runs.set(run.id, run);
      return ctx.json(200, runView(run, core.now()));
    },

    async getRun(ctx: RequestContext): Promise<void> {
      if (!(await st.enter(ctx))) return;
      const r = st.runs.get(ctx.params.run_id!);
      if (!r) return fail(ctx, 404, MESSAGES.runNotFound(ctx.params.run_id!));
      return ctx.json(200, runView(r, core.now()));
    },

    async runResults(ctx: RequestContext): Promise<void> {
      if (!(await st.enter(ctx))) return;
      const r = st.runs.get(ctx.params.run_id!);
      if (!r) return fail(ctx, 404, MESSAGES.runNotFound(ctx.params.run_id!));
      const raw = ctx.url.searchParams.get('file_offset') ?? '0';
      if (!/^\d+$/.test(raw)) return fail(ctx, 400, 'file_offset must be a non-negative integer.');
      const offset = Number(raw);
      const view = runView(r, core.now());
      // Only files the app has finished are reported (all of them once the run is COMPLETE).
      const done = r.files.slice(0, view.progress!.completed);
      const page = done.slice(offset, offset + st.opts.resultsPageSize);
      return ctx.json(200, {
        id: r.id,
        status: view.status,
        files: page.map((f) => ({
          original_file_name: f.name,
          documents: [{ name: f.name, size: f.size, detected_type: f.detected_type }],
        })),
        has_more: offset + page.length < done.length,
      });
    },
  };
}
