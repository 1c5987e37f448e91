/**
 * Large test videos: a structurally valid MP4 (`ftyp`, an empty `moov`, then one `mdat` that fills
 * the file) of any size, for hybrid tests and benchmarks. The payload is random (`random`, the
 * default) or a hole (`sparse`: the file takes no disk space and reads as zeros). Written in
 * 8 MiB blocks, so generating gigabytes takes a few MiB of memory.
 */
import { randomFillSync } from 'node:crypto';
import { open } from 'node:fs/promises';

const BLOCK = 8 * 1024 * 1024;

/** The box headers of an MP4 of `size` bytes (≥ 48). */
export function mp4Header(size: number): Buffer {
  if (!(Number.isSafeInteger(size) && size >= 48)) throw new RangeError(`an MP4 needs at least 48 bytes, asked for ${size}`);
  const ftyp = Buffer.alloc(24);
  ftyp.writeUInt32BE(24, 0);
  ftyp.write('ftypisom', 4, 'latin1');
  ftyp.writeUInt32BE(0x200, 12);
  ftyp.write('isommp41', 16, 'latin1');
  const moov = Buffer.alloc(8);
  moov.writeUInt32BE(8, 0);
  moov.write('moov', 4, 'latin1');
  const rest = size - 32;
  let mdat: Buffer;
  if (rest <= 0xffffffff) {
    mdat = Buffer.alloc(8);
    mdat.writeUInt32BE(rest, 0);
    mdat.write('mdat', 4, 'latin1');
  } else {
    mdat = Buffer.alloc(16);
    mdat.writeUInt32BE(1, 0);
    mdat.write('mdat', 4, 'latin1');
    mdat.writeBigUInt64BE(BigInt(rest), 8);
  }
  return Buffer.concat([ftyp, moov, mdat]);
}

export async function writeMp4(path: string, size: number, opts: { sparse?: boolean } = {}): Promise<void> {
  const head = mp4Header(size);
  const fh = await open(path, 'w');
  try {
    await fh.write(head, 0, head.length, 0);
    if (opts.sparse) {
      await fh.truncate(size);
      return;
    }
    const buf = Buffer.allocUnsafe(BLOCK);
    for (let at = head.length; at < size; ) {
      const n = Math.min(BLOCK, size - at);
      randomFillSync(buf, 0, n);
      await fh.write(buf, 0, n, at);
      at += n;
    }
  } finally {
    await fh.close();
  }
}
