/**
 * A streaming JSON tokenizer over bytes, for request bodies too large to hold in memory (a bach
 * async submit can carry 300 × 10 MB of Base64). Strings are delivered as chunks of raw UTF-8
 * (escapes decoded) as they arrive, so a consumer can decode a huge value straight to disk.
 * Keys are delivered whole (capped). Syntax errors throw JsonSyntaxError.
 */

export interface JsonHandler {
  startObject(): void;
  endObject(): void;
  startArray(): void;
  endArray(): void;
  key(name: string): void;
  startString(): void;
  /** Raw UTF-8 bytes of the string value (a chunk may split a multi-byte character). */
  stringChunk(chunk: Buffer): void;
  endString(): void;
  value(v: number | boolean | null): void;
}

export class JsonSyntaxError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(`${message} at byte ${offset}`);
    this.name = 'JsonSyntaxError';
  }
}

enum S {
  Value, // a value is expected
  ArrayFirst, // after '[': a value or ']'
  ObjectFirst, // after '{': a key or '}'
  ObjectKey, // after ',' in an object: a key
  Colon,
  After, // after a value: ',' or a closer (or the end)
  String,
  Escape,
  Unicode,
  Number,
  Literal,
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const ESCAPES: Record<number, number> = {
  34: 0x22,
  92: 0x5c,
  47: 0x2f,
  98: 0x08,
  102: 0x0c,
  110: 0x0a,
  114: 0x0d,
  116: 0x09,
};
const BOM = [0xef, 0xbb, 0xbf];
const REPLACEMENT = Buffer.from('\uFFFD', 'utf8');
const NUMBER_RE = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

const isWs = (b: number) => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;

export interface JsonScannerOptions {
  maxKeyBytes?: number;
  maxDepth?: number;
}

export class JsonScanner {
  private state: S = S.Value;
  private readonly stack: Array<'o' | 'a'> = [];
  private inKey = false;
  private keyParts: Buffer[] = [];
  private keyLen = 0;
  private hex = 0;
  private hexCount = 0;
  private pendingHigh = -1;
  private token = '';
  private literal = '';
  private literalPos = 0;
  private offset = 0;
  private bom = 0;
  private done = false;
  private readonly maxKeyBytes: number;
  private readonly maxDepth: number;

  constructor(
    private readonly h: JsonHandler,
    opts: JsonScannerOptions = {},
  ) {
    this.maxKeyBytes = opts.maxKeyBytes ?? 64 * 1024;
    this.maxDepth = opts.maxDepth ?? 256;
  }

  /** True once a complete top-level value has been read. */
  get complete(): boolean {
    return this.done;
  }

  write(buf: Buffer): void {
    let i = 0;
    const n = buf.length;
    while (this.bom >= 0 && i < n) {
      // An optional UTF-8 byte order mark, possibly split across chunks.
      if (buf[i] === BOM[this.bom]) {
        i++;
        if (++this.bom === BOM.length) this.bom = -1;
      } else {
        if (this.bom > 0) this.fail('bad byte order mark', i);
        this.bom = -1;
      }
    }
    while (i < n) {
      const b = buf[i]!;
      switch (this.state) {
        case S.String: {
          let j = i;
          while (j < n) {
            const c = buf[j]!;
            if (c === QUOTE || c === BACKSLASH || c < 0x20) break;
            j++;
          }
          if (j > i) this.emitString(buf.subarray(i, j));
          if (j === n) {
            i = n;
            break;
          }
          const c = buf[j]!;
          if (c === QUOTE) {
            this.endString();
          } else if (c === BACKSLASH) {
            this.state = S.Escape;
          } else {
            this.fail('control character in string', j);
          }
          i = j + 1;
          break;
        }
        case S.Escape: {
          if (b === 0x75 /* u */) {
            this.state = S.Unicode;
            this.hex = 0;
            this.hexCount = 0;
          } else {
            const e = ESCAPES[b];
            if (e === undefined) this.fail('bad escape', i);
            this.emitString(Buffer.of(e!));
            this.state = S.String;
          }
          i++;
          break;
        }
        case S.Unicode: {
          const d = hexValue(b);
          if (d < 0) this.fail('bad \\u escape', i);
          this.hex = this.hex * 16 + d;
          if (++this.hexCount === 4) {
            this.codeUnit(this.hex);
            this.state = S.String;
          }
          i++;
          break;
        }
        case S.Number: {
          if ((b >= 0x30 && b <= 0x39) || b === 0x2d || b === 0x2b || b === 0x2e || b === 0x65 || b === 0x45) {
            this.token += String.fromCharCode(b);
            if (this.token.length > 512) this.fail('number too long', i);
            i++;
          } else {
            this.endNumber(i);
          }
          break;
        }
        case S.Literal: {
          if (b !== this.literal.charCodeAt(this.literalPos)) this.fail('bad literal', i);
          i++;
          if (++this.literalPos === this.literal.length) {
            this.h.value(this.literal === 'true' ? true : this.literal === 'false' ? false : null);
            this.afterValue();
          }
          break;
        }
        default: {
          if (isWs(b)) {
            i++;
            break;
          }
          this.structural(b, i);
          i++;
        }
      }
    }
    this.offset += n;
  }

  end(): void {
    if (this.state === S.Number) this.endNumber(0);
    if (!this.done) throw new JsonSyntaxError('unexpected end of JSON', this.offset);
  }

  private structural(b: number, i: number): void {
    const st = this.state;
    if (this.done) this.fail('unexpected data after the JSON value', i);
    if (st === S.ObjectFirst || st === S.ObjectKey) {
      if (b === QUOTE) {
        this.inKey = true;
        this.keyParts = [];
        this.keyLen = 0;
        this.state = S.String;
        return;
      }
      if (b === 0x7d /* } */ && st === S.ObjectFirst) {
        this.close('o', i);
        return;
      }
      this.fail('expected a key', i);
    }
    if (st === S.Colon) {
      if (b !== 0x3a) this.fail("expected ':'", i);
      this.state = S.Value;
      return;
    }
    if (st === S.After) {
      const top = this.stack[this.stack.length - 1];
      if (b === 0x2c /* , */ && top) {
        this.state = top === 'o' ? S.ObjectKey : S.Value;
        return;
      }
      if (b === 0x7d && top === 'o') return this.close('o', i);
      if (b === 0x5d && top === 'a') return this.close('a', i);
      this.fail('unexpected character', i);
    }
    // S.Value or S.ArrayFirst
    if (b === 0x5d /* ] */ && st === S.ArrayFirst) return this.close('a', i);
    switch (b) {
      case 0x7b: // {
        this.push('o', i);
        this.h.startObject();
        this.state = S.ObjectFirst;
        return;
      case 0x5b: // [
        this.push('a', i);
        this.h.startArray();
        this.state = S.ArrayFirst;
        return;
      case QUOTE:
        this.inKey = false;
        this.h.startString();
        this.state = S.String;
        return;
      case 0x74:
        return this.startLiteral('true');
      case 0x66:
        return this.startLiteral('false');
      case 0x6e:
        return this.startLiteral('null');
      default:
        if (b === 0x2d || (b >= 0x30 && b <= 0x39)) {
          this.token = String.fromCharCode(b);
          this.state = S.Number;
          return;
        }
        this.fail('unexpected character', i);
    }
  }

  private startLiteral(lit: string): void {
    this.literal = lit;
    this.literalPos = 1;
    this.state = S.Literal;
  }

  private push(kind: 'o' | 'a', i: number): void {
    if (this.stack.length >= this.maxDepth) this.fail('nesting too deep', i);
    this.stack.push(kind);
  }

  private close(kind: 'o' | 'a', i: number): void {
    if (this.stack.pop() !== kind) this.fail('mismatched bracket', i);
    if (kind === 'o') this.h.endObject();
    else this.h.endArray();
    this.afterValue();
  }

  private afterValue(): void {
    this.state = S.After;
    if (this.stack.length === 0) this.done = true;
  }

  private endNumber(i: number): void {
    if (!NUMBER_RE.test(this.token)) this.fail(`bad number '${this.token}'`, i);
    this.h.value(Number(this.token));
    this.token = '';
    this.afterValue();
  }

  private emitString(chunk: Buffer): void {
    if (this.pendingHigh >= 0) {
      this.pendingHigh = -1;
      this.emitRaw(REPLACEMENT);
    }
    this.emitRaw(chunk);
  }

  private emitRaw(chunk: Buffer): void {
    if (this.inKey) {
      this.keyLen += chunk.length;
      if (this.keyLen > this.maxKeyBytes) this.fail('key too long', 0);
      this.keyParts.push(Buffer.from(chunk));
    } else {
      this.h.stringChunk(chunk);
    }
  }

  private codeUnit(cu: number): void {
    if (this.pendingHigh >= 0) {
      const high = this.pendingHigh;
      this.pendingHigh = -1;
      if (cu >= 0xdc00 && cu <= 0xdfff) {
        const cp = 0x10000 + ((high - 0xd800) << 10) + (cu - 0xdc00);
        this.emitRaw(Buffer.from(String.fromCodePoint(cp), 'utf8'));
        return;
      }
      this.emitRaw(REPLACEMENT);
    }
    if (cu >= 0xd800 && cu <= 0xdbff) {
      this.pendingHigh = cu;
      return;
    }
    if (cu >= 0xdc00 && cu <= 0xdfff) {
      this.emitRaw(REPLACEMENT);
      return;
    }
    this.emitRaw(Buffer.from(String.fromCharCode(cu), 'utf8'));
  }

  private endString(): void {
    if (this.pendingHigh >= 0) {
      this.pendingHigh = -1;
      this.emitRaw(REPLACEMENT);
    }
    if (this.inKey) {
      this.inKey = false;
      const name = Buffer.concat(this.keyParts).toString('utf8');
      this.keyParts = [];
      this.h.key(name);
      this.state = S.Colon;
    } else {
      this.h.endString();
      this.afterValue();
    }
  }

  private fail(msg: string, i: number): never {
    throw new JsonSyntaxError(msg, this.offset + i);
  }
}

function hexValue(b: number): number {
  if (b >= 0x30 && b <= 0x39) return b - 0x30;
  if (b >= 0x61 && b <= 0x66) return b - 0x57;
  if (b >= 0x41 && b <= 0x46) return b - 0x37;
  return -1;
}
