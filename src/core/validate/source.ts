/**
 * Random access to the bytes under validation, without loading whole files: a file handle with
 * its head cached, or an in-memory buffer (a ZIP entry). Plus a buffered forward cursor for
 * structure walks, and `Problem`, the error the checkers throw to reject.
 */
import type { FileHandle } from 'node:fs/promises';
import type { RejectRule } from '../types.js';

/** Thrown by checkers; turned into a Rejection by the caller. `detail` has no file name. */
export class Problem extends Error {
  constructor(
    readonly rule: RejectRule,
    readonly detail: string,
  ) {
    super(detail);
    this.name = 'Problem';
  }
}

export const fail = (rule: RejectRule, detail: string): never => {
  throw new Problem(rule, detail);
};

export interface ByteSource {
  readonly size: number;
  /** Up to `length` bytes at `offset` (fewer only at end of data). Never throws for ranges past the end. */
  read(offset: number, length: number): Promise<Buffer>;
}

export class BufferSource implements ByteSource {
  constructor(private readonly buf: Buffer) {}
  get size(): number {
    return this.buf.length;
  }
  async read(offset: number, length: number): Promise<Buffer> {
    if (offset >= this.buf.length || length <= 0) return Buffer.alloc(0);
    return this.buf.subarray(offset, Math.min(this.buf.length, offset + length));
  }
}

/** A window [start, start+size) of another source (an icon inside an ICO, …). */
export class SliceSource implements ByteSource {
  constructor(
    private readonly inner: ByteSource,
    private readonly start: number,
    readonly size: number,
  ) {}
  read(offset: number, length: number): Promise<Buffer> {
    const len = Math.max(0, Math.min(length, this.size - offset));
    return this.inner.read(this.start + offset, len);
  }
}

export class FileSource implements ByteSource {
  constructor(
    private readonly fh: FileHandle,
    readonly size: number,
    readonly head: Buffer,
  ) {}

  static async open(fh: FileHandle, size: number, headBytes: number): Promise<FileSource> {
    const n = Math.min(size, headBytes);
    const head = Buffer.allocUnsafe(n);
    let got = 0;
    while (got < n) {
      const { bytesRead } = await fh.read(head, got, n - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return new FileSource(fh, size, got === n ? head : head.subarray(0, got));
  }

  async read(offset: number, length: number): Promise<Buffer> {
    const end = Math.min(this.size, offset + Math.max(0, length));
    if (offset >= end) return Buffer.alloc(0);
    if (end <= this.head.length) return this.head.subarray(offset, end);
    const buf = Buffer.allocUnsafe(end - offset);
    let got = 0;
    while (got < buf.length) {
      const { bytesRead } = await this.fh.read(buf, got, buf.length - got, offset + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return got === buf.length ? buf : buf.subarray(0, got);
  }
}

/**
 * Forward cursor over a source with a read-ahead window, for chunk/marker/block walks.
 * Reads past the end throw `Problem('corrupt', '<what> is truncated')`.
 */
export class Cursor {
  pos: number;
  private buf: Buffer = Buffer.alloc(0);
  private bufStart = 0;

  constructor(
    readonly src: ByteSource,
    readonly what: string,
    pos = 0,
    private readonly window = 256 * 1024,
  ) {
    this.pos = pos;
  }

  get size(): number {
    return this.src.size;
  }

  get remaining(): number {
    return this.src.size - this.pos;
  }

  truncated(): never {
    return fail('corrupt', `${this.what} is truncated`);
  }

  /** Make [pos, pos+n) available; false when the data ends first. */
  private async fill(n: number): Promise<boolean> {
    if (this.pos + n > this.src.size) return false;
    if (this.pos >= this.bufStart && this.pos + n <= this.bufStart + this.buf.length) return true;
    this.buf = await this.src.read(this.pos, Math.max(n, this.window));
    this.bufStart = this.pos;
    return this.buf.length >= n;
  }

  async bytes(n: number): Promise<Buffer> {
    if (!(await this.fill(n))) this.truncated();
    const off = this.pos - this.bufStart;
    this.pos += n;
    return this.buf.subarray(off, off + n);
  }

  /** Peek without moving; shorter near the end. */
  async peek(n: number): Promise<Buffer> {
    const avail = Math.min(n, this.src.size - this.pos);
    if (avail <= 0) return Buffer.alloc(0);
    await this.fill(avail);
    const off = this.pos - this.bufStart;
    return this.buf.subarray(off, off + avail);
  }

  async u8(): Promise<number> {
    return (await this.bytes(1))[0]!;
  }
  async u16le(): Promise<number> {
    return (await this.bytes(2)).readUInt16LE(0);
  }
  async u32be(): Promise<number> {
    return (await this.bytes(4)).readUInt32BE(0);
  }

  skip(n: number): void {
    if (this.pos + n > this.src.size) this.truncated();
    this.pos += n;
  }

  /** Visit the next n bytes in pieces (for CRCs / inflating) and move past them. */
  async forEachPiece(n: number, fn: (piece: Buffer) => void, piece = 256 * 1024): Promise<void> {
    if (this.pos + n > this.src.size) this.truncated();
    let left = n;
    while (left > 0) {
      const take = Math.min(left, piece);
      fn(await this.bytes(take));
      left -= take;
    }
  }
}

/** True when most of these bytes are printable ASCII text (used to spot scripts behind a magic). */
export function looksLikeText(b: Buffer): boolean {
  if (b.length === 0) return false;
  let printable = 0;
  for (const c of b) {
    if (c === 9 || c === 10 || c === 13 || (c >= 0x20 && c < 0x7f)) printable++;
  }
  return printable / b.length >= 0.9;
}
