/**
 * aihub's routes under `/api/v2/…` over its state (state.ts): batches and files
 * (batch-routes.ts), multipart sessions (multipart.ts), app runs (runs.ts). Paths, limits, states
 * and messages come from the shared contract (src/providers/aihub/contract.ts); the sandbox-only
 * choices are in its SANDBOX block.
 *
 * Every request's IB-Context header is counted (`GET /_sandbox/aihub`, and `stats.aihub`), so
 * tests can prove a client sent it everywhere.
 */
import type { Protocol, SandboxCore } from '../../kit/protocol.js';
import { batchRoutes } from './batch-routes.js';
import { multipartRoutes } from './multipart.js';
import { AIHUB_BASE } from './paths.js';
import { runRoutes } from './runs.js';
import { AihubState } from './state.js';
import type { AihubOptions, AihubStats } from './types.js';

export async function createAihub(core: SandboxCore, opts: AihubOptions): Promise<Protocol<AihubStats>> {
  const st = await AihubState.open(core, opts);
  const b = batchRoutes(st);
  const m = multipartRoutes(st);
  const r = runRoutes(st);
  const B = `${AIHUB_BASE}/batches`;
  return {
    routes: [
      // Literal paths before parameterised ones of the same shape.
      { method: 'POST', path: `${B}/multipart-upload`, name: 'aihub.multipart.start', faults: true, handle: m.startSession },
      { method: 'PUT', path: `${B}/multipart-upload/sessions/:session_id/parts/:part_num`, name: 'aihub.multipart.part', faults: true, handle: m.putPart },
      { method: 'POST', path: `${B}/multipart-upload/sessions/:session_id`, name: 'aihub.multipart.session', faults: true, handle: m.sessionAction },
      { method: 'GET', path: `${B}/jobs/:job_id`, name: 'aihub.jobs.get', faults: true, handle: b.getJob },
      { method: 'GET', path: `${AIHUB_BASE}/jobs/:job_id`, name: 'aihub.jobs.get', faults: true, handle: b.getJob },
      { method: 'POST', path: B, name: 'aihub.batches.create', faults: true, handle: b.createBatch },
      { method: 'GET', path: B, name: 'aihub.batches.list', faults: true, handle: b.listBatches },
      { method: 'GET', path: `${B}/:id`, name: 'aihub.batches.get', faults: true, handle: b.getBatch },
      { method: 'DELETE', path: `${B}/:id`, name: 'aihub.batches.delete', faults: true, handle: b.deleteBatch },
      { method: 'GET', path: `${B}/:id/files`, name: 'aihub.files.list', faults: true, handle: b.listFiles },
      { method: 'PUT', path: `${B}/:id/files/:filename`, name: 'aihub.files.put', faults: true, handle: b.putFile },
      { method: 'DELETE', path: `${B}/:id/files/:filename`, name: 'aihub.files.delete', faults: true, handle: b.deleteFile },
      { method: 'POST', path: `${AIHUB_BASE}/apps/runs`, name: 'aihub.runs.start', faults: true, handle: r.startRun },
      { method: 'GET', path: `${AIHUB_BASE}/apps/runs/:run_id`, name: 'aihub.runs.get', faults: true, handle: r.getRun },
      { method: 'GET', path: `${AIHUB_BASE}/apps/runs/:run_id/results`, name: 'aihub.runs.results', faults: true, handle: r.runResults },
      {
        method: 'GET',
        path: '/_sandbox/aihub',
        name: 'sandbox.aihub',
        counted: false,
        handle: (ctx) => {
          st.tick();
          return ctx.json(200, {
            ...st.counters,
            options: opts,
            open_sessions: st.sessions.size,
            jobs: st.jobs.size,
            runs: st.runs.size,
            batches: st.allBatches().map((x) => ({ ...st.info(x), files: Object.keys(x.files).length })),
          });
        },
      },
    ],
    errorBody: (_status, message) => ({ message }),
    batchCount: () => st.batchCount,
    stats: () => ({ ...st.counters, contexts: { ...st.counters.contexts } }),
    inspectBatch(id) {
      const m = /^aihub-(\d+)$/.exec(id);
      if (!m) return undefined;
      st.tick();
      const batch = st.batchOf(m[1]);
      if (!batch) return undefined;
      return {
        protocol: 'aihub',
        ...st.info(batch),
        contexts: batch.contexts,
        files: Object.values(batch.files)
          .sort((x, y) => (x.name < y.name ? -1 : 1))
          .map((f) => ({ ...f, url: core.cdnUrl(f.sha256, f.ext) })),
      };
    },
    close: () => st.close(),
  };
}
