/**
 * Streaming request bodies. A batch of 300 × 10 MB files is never held in memory: files are read
 * in chunks while the request is written, hashed (sha256) on the way, and progress is reported
 * per chunk. Lengths are computed up front so every request has an exact Content-Length.
 * Each body is a factory: a retry calls it again and re-reads the files from disk.
 *
 * A large file is read through one buffer per open body, reused chunk after chunk: reading a
 * 100 MB file into a fresh buffer per chunk left ~60 MB of garbage outside the heap before a GC
 * took it back. A chunk is read into again only when the consumer asks for the next one; the
 * HTTP client asks once the socket took it (a write of CHUNK bytes, more than a socket's write
 * buffer, always waits for 'drain'). A chunk shorter than that (a short read) is a copy.
 */
import { close, open, read } from 'node:fs';
import { promisify } from 'node:util';
import { createHash, randomBytes } from 'node:crypto';
import { BatchupError } from './errors.js';
import { SMALL_FILE_BYTES, readExpectedSync } from './small-files.js';

export interface FileSource {
  path: string;
  size: number;
  /** Called with bytes read so far of this file. */
  onProgress?: (sent: number) => void;
  /** Called once the whole file was read, with its sha256 (hex). */
  onDone?: (sha256: string) => void;
}

export interface StreamingBody {
  contentType: string;
  length: number;
  /** A fresh stream of the body each time it is called. */
  open: () => AsyncIterable<Uint8Array>;
}

const CHUNK = 256 * 1024;

/**
 * Pieces smaller than this go out gathered into chunks of this size. A form header of ~200 bytes,
 * a 4 KB image or its Base64, a CRLF: each would otherwise be a socket write (a system call and a
 * write request) of its own — 3,000 of them for 1,000 small images, more than the bytes cost.
 * Each chunk is a buffer of its own, never written into again once handed out.
 */
const GATHER = 64 * 1024;

/** Small pieces copied together into chunks of GATHER bytes; `ready` holds the chunks to send. */
class Gatherer {
  readonly ready: Buffer[] = [];
  private buf = Buffer.allocUnsafe(GATHER);
  private used = 0;

  add(piece: Buffer): void {
    if (this.used && this.used + piece.length > GATHER) this.cut();
    if (piece.length >= GATHER) {
      this.ready.push(piece);
      return;
    }
    piece.copy(this.buf, this.used);
    this.used += piece.length;
  }

  /** What is gathered goes as a chunk of its own (the end of the body). */
  cut(): void {
    if (!this.used) return;
    this.ready.push(this.buf.subarray(0, this.used));
    this.buf = Buffer.allocUnsafe(GATHER);
    this.used = 0;
  }

  /** Hands out the chunks ready so far. */
  *drain(): Generator<Buffer> {
    while (this.ready.length) yield this.ready.shift()!;
  }
}

/** `pieces` re-cut so that small ones travel together; pieces of GATHER bytes or more go as they are. */
export async function* gathered(pieces: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const g = new Gatherer();
  for await (const piece of pieces) {
    g.add(piece);
    yield* g.drain();
  }
  g.cut();
  yield* g.drain();
}

/**
 * A body of pieces and files, gathered. A small file is read, hashed and reported at once, with no
 * stream of its own: for 1,000 small images the layers of async iteration per file cost more
 * than reading them. `encode` turns file bytes into what is sent (Base64), chunk by chunk.
 */
async function* gatherBody(parts: readonly (Buffer | FileSource)[], encode?: (chunks: AsyncIterable<Buffer>) => AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const g = new Gatherer();
  for (const part of parts) {
    if (Buffer.isBuffer(part)) g.add(part);
    else if (part.size <= SMALL_FILE_BYTES) {
      const bytes = readSmall(part);
      g.add(encode ? Buffer.from(bytes.toString('base64'), 'latin1') : bytes);
    } else {
      for await (const chunk of encode ? encode(readFile(part)) : readFile(part)) {
        g.add(chunk);
        yield* g.drain();
      }
    }
    yield* g.drain();
  }
  g.cut();
  yield* g.drain();
}

/** A socket's write buffer: a write smaller than this may still be queued when the next chunk is asked for. */
const SOCKET_HIGH_WATER = 16 * 1024;

/** The file's chunks, read into one reused buffer (see the module doc); ends at the end of the file. */
async function* chunksOf(path: string, size: number): AsyncGenerator<Buffer> {
  // A plain descriptor, as a read stream has: a FileHandle left to the GC (a consumer that stops
  // asking once it has its Content-Length) would warn on stderr.
  const fd = await openFd(path, 'r');
  try {
    // One byte more than the scanned size shows a file that grew.
    const buf = Buffer.allocUnsafeSlow(Math.min(CHUNK, size + 1));
    for (;;) {
      const bytesRead = await readFd(fd, buf, 0, buf.length, null);
      if (bytesRead === 0) return;
      const chunk = buf.subarray(0, bytesRead);
      yield bytesRead < SOCKET_HIGH_WATER ? Buffer.from(chunk) : chunk;
    }
  } finally {
    await closeFd(fd);
  }
}
const openFd = promisify(open);
const readFd = (fd: number, buf: Buffer, offset: number, length: number, position: number | null) =>
  new Promise<number>((ok, fail) => read(fd, buf, offset, length, position, (err, n) => (err ? fail(err) : ok(n))));
const closeFd = promisify(close);

/** A small file in one read, hashed and reported; fails if it no longer has the scanned size. */
function readSmall(src: FileSource): Buffer {
  const bytes = readExpectedSync(src.path, src.size);
  if (bytes.length !== src.size) throw changed(src, bytes.length);
  src.onProgress?.(bytes.length);
  src.onDone?.(createHash('sha256').update(bytes).digest('hex'));
  return bytes;
}

const changed = (src: FileSource, read: number) =>
  new BatchupError('VALIDATION', `${src.path}: file changed while uploading (expected ${src.size} bytes, read ${read})`, { retryable: false });

/** Read a file in chunks, hashing and reporting; fails if it no longer has the scanned size. */
async function* readFile(src: FileSource): AsyncGenerator<Buffer> {
  // Small files in one read: a stream per file costs more than the bytes themselves.
  if (src.size <= SMALL_FILE_BYTES) {
    yield readSmall(src);
    return;
  }
  const hash = createHash('sha256');
  let sent = 0;
  for await (const buf of chunksOf(src.path, src.size)) {
    sent += buf.length;
    if (sent > src.size) break;
    hash.update(buf);
    src.onProgress?.(sent);
    // Report the hash BEFORE the last yield: a consumer that has its Content-Length bytes never
    // asks for more, so code after the final yield may never run.
    if (sent === src.size) src.onDone?.(hash.digest('hex'));
    yield buf;
    if (sent === src.size) return;
  }
  throw changed(src, sent);
}

// ---------- multipart/form-data ----------

export type FormPart = { name: string; value: string } | { name: string; filename: string; contentType: string; file: FileSource };

/** Quote a form parameter like browsers do: escape `"`, CR and LF; UTF-8 kept as is. */
const quote = (s: string) => s.replace(/"/g, '%22').replace(/\r/g, '%0D').replace(/\n/g, '%0A');

export function multipartBody(parts: FormPart[], boundary = `----batchup${randomBytes(12).toString('hex')}`): StreamingBody {
  const heads = parts.map((p) => {
    const disp =
      'file' in p
        ? `form-data; name="${quote(p.name)}"; filename="${quote(p.filename)}"\r\nContent-Type: ${p.contentType}`
        : `form-data; name="${quote(p.name)}"`;
    return Buffer.from(`--${boundary}\r\nContent-Disposition: ${disp}\r\n\r\n`, 'utf8');
  });
  const values = parts.map((p) => ('file' in p ? null : Buffer.from(p.value, 'utf8')));
  const crlf = Buffer.from('\r\n');
  const tail = Buffer.from(`--${boundary}--\r\n`);
  let length = tail.length;
  parts.forEach((p, i) => {
    length += heads[i]!.length + ('file' in p ? p.file.size : values[i]!.length) + crlf.length;
  });
  return {
    contentType: `multipart/form-data; boundary=${boundary}`,
    length,
    open: () => gatherBody([...parts.flatMap((p, i) => [heads[i]!, 'file' in p ? p.file : values[i]!, crlf]), tail]),
  };
}

// ---------- JSON with Base64 payloads ----------

export type JsonItem = { fields: Record<string, string>; base64Field?: string; file?: FileSource };

export const base64Length = (bytes: number) => 4 * Math.ceil(bytes / 3);

/** Base64-encode a byte stream, carrying the 0–2 leftover bytes between chunks. */
async function* base64Stream(chunks: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  let carry = Buffer.alloc(0);
  for await (const chunk of chunks) {
    const buf = carry.length ? Buffer.concat([carry, chunk]) : chunk;
    const whole = buf.length - (buf.length % 3);
    carry = Buffer.from(buf.subarray(whole));
    if (whole) yield Buffer.from(buf.subarray(0, whole).toString('base64'), 'latin1');
  }
  if (carry.length) yield Buffer.from(carry.toString('base64'), 'latin1');
}

/**
 * `{...head, "<arrayField>": [ {...fields, "<base64Field>": "<file as base64>"}, ... ]}`,
 * streamed. Field order inside each object: plain fields first, then the Base64 one.
 */
export function jsonArrayBody(head: Record<string, string>, arrayField: string, items: JsonItem[]): StreamingBody {
  const headJson = JSON.stringify(head);
  const open = Buffer.from(`${headJson.slice(0, -1)}${headJson.length > 2 ? ',' : ''}${JSON.stringify(arrayField)}:[`);
  const close = Buffer.from(']}');
  const pieces = items.map((it, i) => {
    const obj = JSON.stringify(it.fields);
    const sep = i ? ',' : '';
    if (!it.file || !it.base64Field) return { pre: Buffer.from(sep + obj), post: Buffer.alloc(0) };
    const pre = Buffer.from(`${sep}${obj.slice(0, -1)}${obj.length > 2 ? ',' : ''}${JSON.stringify(it.base64Field)}:"`);
    return { pre, file: it.file, post: Buffer.from('"}') };
  });
  // One decision per item (pieces) for both the length and the bytes, so they cannot disagree.
  let length = open.length + close.length;
  for (const p of pieces) length += p.pre.length + p.post.length + (p.file ? base64Length(p.file.size) : 0);
  return {
    contentType: 'application/json',
    length,
    open: () => gatherBody([open, ...pieces.flatMap((p) => (p.file ? [p.pre, p.file, p.post] : [p.pre, p.post])), close], base64Stream),
  };
}

// ---------- one file as the whole body ----------

/** A file as a raw request body (aihub's PUT of a batch file): streamed, hashed, with progress. */
export function rawFileBody(file: FileSource, contentType = 'application/octet-stream'): StreamingBody {
  return { contentType, length: file.size, open: () => readFile(file) };
}

/**
 * A raw file body whose `sha256()` is the hash of the bytes the last `open()` handed out. It
 * throws (INTERNAL) if asked before the whole file went out, so a missing hash can never be
 * compared as if it were one.
 */
export function hashedFileBody(path: string, size: number, onProgress?: (sent: number) => void): StreamingBody & { sha256(): string } {
  let digest: string | undefined;
  const body = rawFileBody({ path, size, onProgress, onDone: (h) => (digest = h) });
  return {
    ...body,
    open() {
      digest = undefined;
      return body.open();
    },
    sha256() {
      if (digest === undefined) throw new BatchupError('INTERNAL', `${path}: the body was not read to its end, so its sha256 is unknown`, { retryable: false });
      return digest;
    },
  };
}
