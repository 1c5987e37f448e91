/**
 * GIF: header, logical screen, then every block up to the trailer (0x3B). Each frame's LZW code
 * stream is checked for validity (codes within the dictionary) without producing pixels — this
 * is what catches a broken frame deep in an animation. Frames are counted (frame floods) and
 * each frame's extent is checked against the pixel limit (a 32×32 screen may carry a frame
 * descriptor that implies gigapixels). A missing trailer after complete frames is tolerated,
 * as browsers do; data ending inside a block is truncation.
 */
import type { ValidationPolicy } from '../types.js';
import { checkFrames, checkPixels, type Shape } from './limits.js';
import { Cursor, fail, type ByteSource } from './source.js';

export function isGif(head: Buffer): boolean {
  const s = head.toString('latin1', 0, 6);
  return s === 'GIF87a' || s === 'GIF89a';
}

/** Validates an LZW code stream fed in pieces; throws on an impossible code. */
class LzwChecker {
  private readonly clear: number;
  private readonly eoi: number;
  private codeSize: number;
  private next: number;
  private hasPrev = false;
  private bits = 0;
  private nbits = 0;
  done = false;

  constructor(
    private readonly minCodeSize: number,
    private readonly frame: number,
  ) {
    this.clear = 1 << minCodeSize;
    this.eoi = this.clear + 1;
    this.codeSize = minCodeSize + 1;
    this.next = this.clear + 2;
  }

  feed(data: Buffer): void {
    for (let i = 0; i < data.length && !this.done; i++) {
      this.bits |= data[i]! << this.nbits;
      this.nbits += 8;
      while (this.nbits >= this.codeSize && !this.done) {
        const code = this.bits & ((1 << this.codeSize) - 1);
        this.bits >>>= this.codeSize;
        this.nbits -= this.codeSize;
        this.code(code);
      }
    }
  }

  private code(code: number): void {
    if (code === this.clear) {
      this.codeSize = this.minCodeSize + 1;
      this.next = this.clear + 2;
      this.hasPrev = false;
      return;
    }
    if (code === this.eoi) {
      this.done = true;
      return;
    }
    if (!this.hasPrev) {
      if (code >= this.clear) fail('corrupt', `GIF frame ${this.frame} has a broken LZW stream`);
      this.hasPrev = true;
      return;
    }
    if (code > this.next) fail('corrupt', `GIF frame ${this.frame} has a broken LZW stream`);
    if (this.next < 4096) {
      this.next++;
      if (this.next === 1 << this.codeSize && this.codeSize < 12) this.codeSize++;
    }
  }
}

export async function checkGif(src: ByteSource, policy: ValidationPolicy): Promise<Shape> {
  const cur = new Cursor(src, 'GIF');
  if (!isGif(await cur.bytes(6))) fail('corrupt', 'bad GIF signature');
  const screen = await cur.bytes(7);
  const width = screen.readUInt16LE(0);
  const height = screen.readUInt16LE(2);
  const flags = screen[4]!;
  checkPixels(width, height, policy);
  if (flags & 0x80) cur.skip(3 << ((flags & 7) + 1));

  const skipSubBlocks = async () => {
    for (;;) {
      const n = await cur.u8();
      if (n === 0) return;
      cur.skip(n);
    }
  };

  let frames = 0;
  for (;;) {
    if (cur.remaining === 0) {
      if (frames > 0) break; // no trailer, but every frame complete
      cur.truncated();
    }
    const block = await cur.u8();
    if (block === 0x3b) break;
    if (block === 0x21) {
      await cur.u8(); // extension label
      await skipSubBlocks();
    } else if (block === 0x2c) {
      frames++;
      checkFrames(frames, policy);
      const d = await cur.bytes(9);
      const left = d.readUInt16LE(0);
      const top = d.readUInt16LE(2);
      const w = d.readUInt16LE(4);
      const h = d.readUInt16LE(6);
      const f = d[8]!;
      checkPixels(Math.max(width, left + w), Math.max(height, top + h), policy, `frame ${frames}`);
      if (f & 0x80) cur.skip(3 << ((f & 7) + 1));
      const minCodeSize = await cur.u8();
      if (minCodeSize < 1 || minCodeSize > 11) fail('corrupt', `GIF frame ${frames} has an invalid LZW code size`);
      const lzw = new LzwChecker(minCodeSize, frames);
      for (;;) {
        const n = await cur.u8();
        if (n === 0) break;
        const data = await cur.bytes(n);
        if (!lzw.done) lzw.feed(data);
      }
    } else {
      fail('corrupt', `GIF has an unknown block 0x${block.toString(16)} at byte ${cur.pos - 1}`);
    }
  }
  if (frames === 0) fail('corrupt', 'GIF has no image frames');
  return { width, height, frames };
}
