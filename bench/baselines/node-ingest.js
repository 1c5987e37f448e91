// The Node floor of the ingest benchmark: what bench/ingest-limit.js asks of curl — N parallel
// multipart posts to bach submit-with-files, then status polls until each batch succeeded —
// written as a minimal Node client (built-in fetch and FormData; no validation, journal or
// manifest). Usage: BENCH_TOKEN=… node node-ingest.js API_BASE PARALLEL FILE…
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

const [api, parallel, ...files] = process.argv.slice(2);
const headers = { authorization: `Bearer ${process.env.BENCH_TOKEN}` };
const per = Math.ceil(files.length / Number(parallel));
const groups = Array.from({ length: Number(parallel) }, (_, i) => files.slice(i * per, (i + 1) * per)).filter((g) => g.length);

const json = async (res) => {
  if (!res.ok) throw new Error(`${res.url}: HTTP ${res.status}`);
  return res.json();
};

await Promise.all(
  groups.map(async (group) => {
    const form = new FormData();
    for (const f of group) form.append('files', new Blob([readFileSync(f)], { type: 'image/png' }), basename(f));
    const submitted = await json(await fetch(`${api}/batch-upload/submit-with-files`, { method: 'POST', headers, body: form }));
    for (;;) {
      const st = await json(await fetch(`${api}/batch-upload/status/${submitted.data.batch_id}`, { headers }));
      if (st.data.status === 'TASK_SUCCEEDED' && st.data.processed_count === group.length) return;
      if (st.data.status === 'TASK_FAILED') throw new Error(`batch ${submitted.data.batch_id} failed`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }),
);
