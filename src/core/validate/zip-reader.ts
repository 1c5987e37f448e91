/**
 * The part of ZIP reading that needs yauzl (zip.ts loads it with the first archive): yauzl over
 * our own byte source, and entry names decoded by us.
 */
import { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import yauzl from 'yauzl';
import type { ByteSource } from './source.js';

class SourceReader extends yauzl.RandomAccessReader {
  constructor(private readonly src: ByteSource) {
    super();
  }
  override _readStreamForRange(start: number, end: number): Readable {
    const src = this.src;
    async function* chunks() {
      for (let p = start; p < end; ) {
        const b = await src.read(p, Math.min(end - p, 256 * 1024));
        if (b.length === 0) throw new Error('unexpected EOF');
        yield b;
        p += b.length;
      }
    }
    return Readable.from(chunks(), { objectMode: false });
  }
  override read(buffer: Buffer, offset: number, length: number, position: number, callback: (err: Error | null) => void): void {
    this.src.read(position, length).then(
      (b) => {
        if (b.length < length) return callback(new Error('unexpected EOF'));
        b.copy(buffer, offset);
        callback(null);
      },
      (err: Error) => callback(err),
    );
  }
}

export async function openZip(src: ByteSource): Promise<yauzl.ZipFile> {
  return yauzl.fromRandomAccessReaderPromise(new SourceReader(src), src.size, {
    lazyEntries: true,
    autoClose: false,
    decodeStrings: false,
    validateEntrySizes: true,
  });
}

/** Shift-JIS / CP932 lead bytes: a following 0x5C is half of a character, not a backslash. */
const isDbcsLead = (b: number) => (b >= 0x81 && b <= 0x9f) || (b >= 0xe0 && b <= 0xfc);

export function decodeName(e: yauzl.Entry): { name: string; backslash: boolean } {
  const raw = e.fileNameRaw;
  const name = yauzl.getFileNameLowLevel(e.generalPurposeBitFlag, raw, e.extraFields, true);
  const utf8 = (e.generalPurposeBitFlag & 0x800) !== 0;
  const unicodeExtra = e.extraFields.some((f) => f.id === 0x7075 && f.data.length >= 6 && f.data[0] === 1 && f.data.readUInt32LE(1) === crc32(raw) >>> 0);
  let backslash = false;
  if (utf8 || unicodeExtra) {
    backslash = name.includes('\\');
  } else {
    for (let i = 0; i < raw.length; i++) {
      if (raw[i] === 0x5c && !(i > 0 && isDbcsLead(raw[i - 1]!))) backslash = true;
    }
  }
  return { name, backslash };
}
