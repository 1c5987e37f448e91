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

/** `pieces` re-cut so that small ones travel together; pieces of GATHER bytes or more go as they are. */
export async function* gathered(pieces: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  let buf = Buffer.allocUnsafe(GATHER);
  let used = 0;
  for await (const piece of pieces) {
    if (used && used + piece.length > GATHER) {
      yield buf.subarray(0, used);
      buf = Buffer.allocUnsafe(GATHER);
      used = 0;
    }
    if (piece.length >= GATHER) {
      yield piece;
      continue;
    }
    piece.copy(buf, used);
    used += piece.length;
  }
  if (used) yield buf.subarray(0, used);
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

/** Read a file in chunks, hashing and reporting; fails if it no longer has the scanned size. */
async function* readFile(src: FileSource): AsyncGenerator<Buffer> {
  const hash = createHash('sha256');
  let sent = 0;
  // Small files in one read: a stream per file costs more than the bytes themselves.
  const chunks = src.size <= SMALL_FILE_BYTES ? [readExpectedSync(src.path, src.size)] : chunksOf(src.path, src.size);
  for await (const buf of chunks) {
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
  if (sent !== src.size) {
    throw new BatchupError('VALIDATION', `${src.path}: file changed while uploading (expected ${src.size} bytes, read ${sent})`, { retryable: false });
  }
  src.onDone?.(hash.digest('hex')); // an empty file: no chunk came
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
    open: () =>
      gathered(
        (async function* () {
          for (let i = 0; i < parts.length; i++) {
            const p = parts[i]!;
            yield heads[i]!;
            if ('file' in p) yield* readFile(p.file);
            else yield values[i]!;
            yield crlf;
          }
          yield tail;
        })(),
      ),
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
    open: () =>
      gathered(
        (async function* () {
          yield open;
          for (const p of pieces) {
            yield p.pre;
            if (p.file) yield* base64Stream(readFile(p.file));
            yield p.post;
          }
          yield close;
        })(),
      ),
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
