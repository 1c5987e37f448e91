/** Helpers for the sandbox tests: fake images, request shortcuts (ZIPs: makeZip in src/devtools/generate.ts). */
import { createHash, randomBytes } from 'node:crypto';
import { FormData, fetch, request } from 'undici';
import { SignJWT } from 'jose';
import { PNG_SIGNATURE } from '../../src/devtools/generate.js';

export const TOKEN = 'sandbox-test-token';
export const auth = (token = TOKEN) => ({ authorization: `Bearer ${token}` });

/** Bytes that start like a PNG, then `size` bytes in total. */
export function fakePng(size = 256, seed?: string): Buffer {
  const n = Math.max(0, size - PNG_SIGNATURE.length);
  return Buffer.concat([PNG_SIGNATURE, seed ? expand(seed, n) : randomBytes(n)]).subarray(0, size);
}

function expand(seed: string, n: number): Buffer {
  const parts: Buffer[] = [];
  let len = 0;
  for (let i = 0; len < n; i++) {
    const h = createHash('sha256').update(`${seed}:${i}`).digest();
    parts.push(h);
    len += h.length;
  }
  return Buffer.concat(parts).subarray(0, n);
}

export const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

export interface Part {
  files?: Array<{ name: string; data: Buffer }>;
  names?: string[];
  batchId?: string;
  /** Put image_names / batch_id before the files (like Python requests) instead of after. */
  fieldsFirst?: boolean;
}

export function form(p: Part): FormData {
  const fd = new FormData();
  const fields = () => {
    for (const n of p.names ?? []) fd.append('image_names', n);
    if (p.batchId !== undefined) fd.append('batch_id', p.batchId);
  };
  if (p.fieldsFirst) fields();
  for (const f of p.files ?? []) fd.append('files', new Blob([new Uint8Array(f.data)]), f.name);
  if (!p.fieldsFirst) fields();
  return fd;
}

export async function postForm(endpoint: string, p: Part, headers: Record<string, string> = auth()) {
  const res = await fetch(`${endpoint}/batch-upload/submit-with-files`, { method: 'POST', body: form(p), headers });
  return { status: res.status, headers: res.headers, body: (await res.json()) as any };
}

export async function postJson(endpoint: string, body: unknown, headers: Record<string, string> = auth()) {
  const res = await request(`${endpoint}/batch-upload/submit`, {
    method: 'POST',
    body: typeof body === 'string' ? body : JSON.stringify(body),
    headers: { 'content-type': 'application/json', ...headers },
  });
  return { status: res.statusCode, body: (await res.body.json()) as any };
}

export async function getStatus(endpoint: string, id: string, headers: Record<string, string> = auth()) {
  const res = await request(`${endpoint}/batch-upload/status/${encodeURIComponent(id)}`, { headers });
  return { status: res.statusCode, body: (await res.body.json()) as any };
}

/** Polls until TASK_SUCCEEDED (or the time runs out). */
export async function waitDone(endpoint: string, id: string, timeoutMs = 60_000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const r = await getStatus(endpoint, id);
    if (r.body?.data?.status === 'TASK_SUCCEEDED' || Date.now() > until) return r.body.data;
    await new Promise((ok) => setTimeout(ok, 20));
  }
}

export async function download(url: string): Promise<{ status: number; type: string | null; bytes: Buffer }> {
  const res = await fetch(url);
  return { status: res.status, type: res.headers.get('content-type'), bytes: Buffer.from(await res.arrayBuffer()) };
}

export async function mintJwt(accessKey: string, secretKey: string, opts: { nbf?: number; exp?: number; alg?: string } = {}) {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: opts.alg ?? 'HS256', typ: 'JWT' })
    .setIssuer(accessKey)
    .setNotBefore(opts.nbf ?? now - 5)
    .setExpirationTime(opts.exp ?? now + 1800)
    .sign(new TextEncoder().encode(secretKey));
}
