/**
 * Small local files (thumbnails, icons, most web images) are read with the synchronous calls.
 * Through the thread pool, open + stat + read + close cost about four times more than the bytes
 * of a few-KB file (measured: 1,000 files in ~115 ms vs ~30 ms), while a read of at most
 * SMALL_FILE_BYTES blocks the event loop for microseconds. Larger files keep the async path.
 */
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';

export const SMALL_FILE_BYTES = 64 * 1024;

// Non-blocking open: a FIFO (or a device) in place of a file must not hang the event loop.
// Regular files ignore the flag.
const READ_NOW = constants.O_RDONLY | constants.O_NONBLOCK;

/** Up to `length` bytes from the start of an open file (fewer at its end). */
function readHeadSync(fd: number, length: number): Buffer {
  const buf = Buffer.allocUnsafe(length);
  let got = 0;
  while (got < length) {
    const n = readSync(fd, buf, got, length - got, got);
    if (n === 0) break;
    got += n;
  }
  return got === length ? buf : buf.subarray(0, got);
}

/**
 * The stats and, when it is a regular file of at most SMALL_FILE_BYTES, the whole content of
 * `path`. Throws the system error (ENOENT, EACCES, …) when it cannot be opened.
 */
export function readSmallFileSync(path: string): { stats: Stats; bytes?: Buffer } {
  const fd = openSync(path, READ_NOW);
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile() || stats.size > SMALL_FILE_BYTES) return { stats };
    return { stats, bytes: readHeadSync(fd, stats.size) };
  } finally {
    closeSync(fd);
  }
}

/** `size` bytes plus one more if the file grew (the caller compares), in one synchronous read. */
export function readExpectedSync(path: string, size: number): Buffer {
  const fd = openSync(path, READ_NOW);
  try {
    return readHeadSync(fd, size + 1);
  } finally {
    closeSync(fd);
  }
}
