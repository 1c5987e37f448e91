/**
 * Streaming Base64 decoder: takes the raw bytes of a JSON string value chunk by chunk and returns
 * decoded bytes, never holding more than one chunk. Accepts the standard and URL-safe alphabets,
 * optional padding and embedded whitespace; anything else (e.g. a `data:` URL prefix) makes the
 * value invalid.
 */

// 0 invalid, 1 alphabet, 2 '=', 3 whitespace
const CLASS = new Uint8Array(256);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_') CLASS[c.charCodeAt(0)] = 1;
CLASS[0x3d] = 2;
for (const c of [0x20, 0x0a, 0x0d, 0x09]) CLASS[c] = 3;

export class Base64Decoder {
  invalid = false;
  /** Decoded bytes produced so far. */
  decodedSize = 0;
  private carry = '';
  private dataChars = 0;
  private padChars = 0;

  /** Decoded bytes for this chunk (possibly empty). After `invalid` turns true it returns nothing. */
  push(chunk: Buffer): Buffer {
    if (this.invalid) return EMPTY;
    let clean = chunk;
    let needsFilter = false;
    for (let i = 0; i < chunk.length; i++) {
      const k = CLASS[chunk[i]!]!;
      if (k === 1) {
        if (this.padChars > 0) return this.fail();
        this.dataChars++;
      } else if (k === 2) {
        if (++this.padChars > 2) return this.fail();
      } else if (k === 3) {
        needsFilter = true;
      } else {
        return this.fail();
      }
    }
    if (needsFilter) {
      const out = Buffer.allocUnsafe(chunk.length);
      let o = 0;
      for (let i = 0; i < chunk.length; i++) if (CLASS[chunk[i]!] !== 3) out[o++] = chunk[i]!;
      clean = out.subarray(0, o);
    }
    const text = this.carry + clean.toString('latin1');
    const aligned = text.length - (text.length % 4);
    this.carry = text.slice(aligned);
    return this.decode(text.slice(0, aligned));
  }

  /** Flushes the tail; sets `invalid` when the total length cannot be Base64. */
  end(): Buffer {
    if (this.invalid) return EMPTY;
    const total = this.dataChars + this.padChars;
    if (this.padChars > 0 ? total % 4 !== 0 : this.dataChars % 4 === 1) return this.fail();
    const tail = this.carry;
    this.carry = '';
    return this.decode(tail);
  }

  private decode(text: string): Buffer {
    if (text.length === 0) return EMPTY;
    const out = Buffer.from(text, 'base64');
    this.decodedSize += out.length;
    return out;
  }

  private fail(): Buffer {
    this.invalid = true;
    this.carry = '';
    return EMPTY;
  }
}

const EMPTY = Buffer.alloc(0);
