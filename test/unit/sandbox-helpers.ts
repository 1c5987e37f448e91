/** Helpers for the sandbox tests: a tiny ZIP writer, fake images, request shortcuts. */
import { crc32, deflateRawSync } from 'node:zlib';
import { createHash, randomBytes } from 'node:crypto';
import { FormData, fetch, request } from 'undici';
import { SignJWT } from 'jose';

export const TOKEN = 'sandbox-test-token';
export const auth = (token = TOKEN) => ({ authorization: `Bearer ${token}` });

/** Bytes that start like a PNG, then `size` bytes in total. */
export function fakePng(size = 256, seed?: string): Buffer {
  const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const body = seed ? expand(seed, Math.max(0, size - sig.length)) : randomBytes(Math.max(0, size - sig.length));
  return Buffer.concat([sig, body]).subarray(0, size);
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

export interface ZipEntry {
  name: string;
  data?: Buffer;
  deflate?: boolean;
}

/** A minimal ZIP writer (stored or deflated entries, no ZIP64). Directories end with '/'. */
export function buildZip(entries: ZipEntry[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const raw = e.data ?? Buffer.alloc(0);
    const method = e.deflate ? 8 : 0;
    const body = e.deflate ? deflateRawSync(raw) : raw;
    const crc = crc32(raw) >>> 0;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(method, 8);
    local.writeUInt16LE(0, 10);
    local.writeUInt16LE(0x21, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(raw.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    locals.push(local, name, body);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(method, 10);
    central.writeUInt16LE(0, 12);
    central.writeUInt16LE(0x21, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(raw.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(e.name.endsWith('/') ? 0x10 : 0, 38);
    central.writeUInt32LE(offset, 42);
    centrals.push(central, name);
    offset += local.length + name.length + body.length;
  }
  const cd = Buffer.concat(centrals);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(entries.length, 8);
  eocd.writeUInt16LE(entries.length, 10);
  eocd.writeUInt32LE(cd.length, 12);
  eocd.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, eocd]);
}

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
export async function waitDone(endpoint: string, id: string, timeoutMs = 10_000) {
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
