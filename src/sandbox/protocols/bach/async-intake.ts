/**
 * The body of `POST /batch-upload/submit`, consumed as a token stream (json-stream.ts): a 300 ×
 * 10 MB batch of Base64 never sits in memory — each `image_base64` value is decoded straight into
 * a temp file of the store while it arrives. Shape errors are BodyErrors; rule errors (the first
 * item's, in index order) are kept in `firstError` for the route to answer.
 */
import { LIMITS, MESSAGES, defaultImageName } from '../../../providers/bach/contract.js';
import type { ContentStore, Ingested, TempWriter } from '../../kit/store.js';
import { Base64Decoder } from './base64.js';
import type { JsonHandler } from './json-stream.js';
import { BodyError } from './replies.js';

/** Cap for small JSON strings (batch_id, image_name, image_url): beyond it the body is rejected. */
const MAX_SMALL_STRING = 64 * 1024;

export interface AsyncItem {
  index: number;
  name: string;
  url?: string;
  ingP?: Promise<Ingested>;
  ing?: Ingested;
}

interface ItemState {
  index: number;
  keep: boolean;
  name?: string;
  url?: string;
  b64?: { decoder: Base64Decoder; writer?: TempWriter; chars: number; ingP?: Promise<Ingested> };
  sawB64Key: boolean;
}

type StrTarget = 'batch_id' | 'image_name' | 'image_url' | 'image_base64' | 'ignore';

export class AsyncIntake implements JsonHandler {
  batchId: string | undefined;
  count = 0;
  firstError: string | undefined;
  readonly items: AsyncItem[] = [];

  private level = 0; // 0 before root, 1 root object, 2 images array, 3 an image object
  private field: string | null = null;
  private skip = 0;
  private sawImages = false;
  private cur: ItemState | null = null;
  private str: StrTarget = 'ignore';
  private strParts: Buffer[] = [];
  private strLen = 0;
  private needDrain: TempWriter | null = null;
  private readonly finishing: Promise<void>[] = [];
  private readonly writers = new Set<TempWriter>();

  constructor(private readonly store: ContentStore) {}

  // -- driving --
  async flush(): Promise<void> {
    const w = this.needDrain;
    this.needDrain = null;
    if (w) await w.drained();
  }

  async settle(): Promise<void> {
    await Promise.all(this.finishing);
    for (const item of this.items) if (item.ingP) item.ing = await item.ingP;
  }

  async cleanup(): Promise<void> {
    await Promise.allSettled(this.finishing);
    await Promise.all([...this.writers].map((w) => w.discard()));
  }

  // -- JsonHandler --
  startObject(): void {
    if (this.skip) return void this.skip++;
    switch (this.level) {
      case 0:
        this.level = 1;
        return;
      case 1:
        if (this.field === 'images' || this.field === 'batch_id') throw this.typeError();
        this.skip = 1;
        return;
      case 2:
        this.beginItem();
        this.level = 3;
        return;
      default:
        if (isItemField(this.field)) throw this.typeError();
        this.skip = 1;
    }
  }

  endObject(): void {
    if (this.skip) return void this.skip--;
    if (this.level === 3) {
      this.endItem();
      this.level = 2;
    } else if (this.level === 1) {
      this.level = 0;
    }
    this.field = null;
  }

  startArray(): void {
    if (this.skip) return void this.skip++;
    switch (this.level) {
      case 0:
        throw new BodyError('the body must be a JSON object');
      case 1:
        if (this.field === 'images') {
          if (this.sawImages) throw new BodyError("duplicate key 'images'");
          this.sawImages = true;
          this.level = 2;
          return;
        }
        if (this.field === 'batch_id') throw this.typeError();
        this.skip = 1;
        return;
      case 2:
        throw new BodyError('each item of images must be an object');
      default:
        if (isItemField(this.field)) throw this.typeError();
        this.skip = 1;
    }
  }

  endArray(): void {
    if (this.skip) return void this.skip--;
    if (this.level === 2) {
      this.level = 1;
      this.field = null;
    }
  }

  key(name: string): void {
    if (this.skip) return;
    this.field = name;
  }

  startString(): void {
    this.str = 'ignore';
    this.strParts = [];
    this.strLen = 0;
    if (this.skip) return;
    switch (this.level) {
      case 0:
        throw new BodyError('the body must be a JSON object');
      case 1:
        if (this.field === 'images') throw this.typeError();
        if (this.field === 'batch_id') this.str = 'batch_id';
        return;
      case 2:
        throw new BodyError('each item of images must be an object');
      default: {
        const cur = this.cur!;
        if (this.field === 'image_name' || this.field === 'image_url') {
          if (cur.keep) this.str = this.field;
          return;
        }
        if (this.field === 'image_base64') {
          if (cur.sawB64Key) throw new BodyError("duplicate key 'image_base64'");
          cur.sawB64Key = true;
          const decoder = new Base64Decoder();
          const storeIt = cur.keep && this.firstError === undefined;
          let writer: TempWriter | undefined;
          if (storeIt) {
            writer = this.store.tempWriter(LIMITS.maxFileSize);
            this.writers.add(writer);
          }
          cur.b64 = { decoder, writer, chars: 0 };
          this.str = 'image_base64';
        }
      }
    }
  }

  stringChunk(chunk: Buffer): void {
    switch (this.str) {
      case 'ignore':
        return;
      case 'image_base64': {
        const b64 = this.cur!.b64!;
        b64.chars += chunk.length;
        if (!b64.writer) {
          // Not stored (an earlier item already failed, or past the limit): only the shape matters.
          return;
        }
        const out = b64.decoder.push(chunk);
        if (out.length && b64.writer.write(out)) this.needDrain = b64.writer;
        return;
      }
      default:
        this.strLen += chunk.length;
        if (this.strLen > MAX_SMALL_STRING) throw new BodyError(`'${this.str}' is too long`);
        this.strParts.push(Buffer.from(chunk));
    }
  }

  endString(): void {
    const target = this.str;
    this.str = 'ignore';
    if (target === 'ignore') return;
    if (target === 'image_base64') {
      const b64 = this.cur!.b64!;
      if (b64.writer) {
        const tail = b64.decoder.end();
        if (tail.length) b64.writer.write(tail);
        b64.ingP = b64.writer.finish();
        this.finishing.push(b64.ingP.then(() => undefined));
      }
      return;
    }
    const value = Buffer.concat(this.strParts).toString('utf8');
    this.strParts = [];
    if (target === 'batch_id') this.batchId = value === '' ? undefined : value;
    else if (target === 'image_name') this.cur!.name = value === '' ? undefined : value;
    else if (target === 'image_url') this.cur!.url = value === '' ? undefined : value;
  }

  value(v: number | boolean | null): void {
    if (this.skip) return;
    switch (this.level) {
      case 0:
        throw new BodyError('the body must be a JSON object');
      case 1:
        if ((this.field === 'images' || this.field === 'batch_id') && v !== null) throw this.typeError();
        return;
      case 2:
        throw new BodyError('each item of images must be an object');
      default:
        if (isItemField(this.field) && v !== null) throw this.typeError();
    }
  }

  // -- items --
  private beginItem(): void {
    const index = this.count++;
    this.cur = { index, keep: index < LIMITS.maxFiles, sawB64Key: false };
  }

  private endItem(): void {
    const cur = this.cur!;
    this.cur = null;
    if (!cur.keep) return;
    const position = cur.index + 1;
    const name = cur.name ?? defaultImageName(cur.index, cur.url);
    const hasB64 = cur.b64 !== undefined && cur.b64.chars > 0;
    const hasUrl = cur.url !== undefined;
    let error: string | undefined;
    if (hasUrl === hasB64) error = MESSAGES.imageSource(position, name);
    else if (hasB64 && cur.b64!.writer) {
      const d = cur.b64!.decoder;
      if (d.invalid) error = MESSAGES.invalidBase64(position, name);
      else if (d.decodedSize > LIMITS.maxFileSize) error = MESSAGES.tooLarge(position, name, d.decodedSize);
    }
    if (error !== undefined) {
      this.firstError ??= error;
      return;
    }
    if (this.firstError !== undefined) return; // the batch is rejected anyway
    this.items.push({ index: cur.index, name, url: hasUrl ? cur.url : undefined, ingP: hasUrl ? undefined : cur.b64?.ingP });
  }

  private typeError(): BodyError {
    const where = this.level >= 3 ? `image '${this.field}'` : `'${this.field}'`;
    return new BodyError(this.field === 'images' ? "'images' must be an array of objects" : `${where} must be a string`);
  }
}

function isItemField(key: string | null): boolean {
  return key === 'image_name' || key === 'image_url' || key === 'image_base64';
}
