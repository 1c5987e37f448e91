/** Pure parts of the sandbox: ordinals, PRNG, streaming Base64 and JSON, host checks. */
import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { ordinal, extensionOf, isZipImageEntry, MESSAGES } from '../../src/providers/bach/contract.js';
import { mulberry32 } from '../../src/sandbox/kit/faults.js';
import { Base64Decoder } from '../../src/sandbox/protocols/bach/base64.js';
import { JsonScanner, JsonSyntaxError, type JsonHandler } from '../../src/sandbox/protocols/bach/json-stream.js';
import { isLoopbackHost as isLoopback } from '../../src/core/loopback.js';
import { sniffExt } from '../../src/sandbox/kit/media.js';

describe('ordinal', () => {
  it('English ordinals', () => {
    const want: Record<number, string> = {
      1: '1st',
      2: '2nd',
      3: '3rd',
      4: '4th',
      10: '10th',
      11: '11th',
      12: '12th',
      13: '13th',
      14: '14th',
      21: '21st',
      22: '22nd',
      23: '23rd',
      101: '101st',
      111: '111th',
      112: '112th',
      122: '122nd',
      300: '300th',
    };
    for (const [n, s] of Object.entries(want)) expect(ordinal(Number(n))).toBe(s);
  });

  it('messages use them', () => {
    expect(MESSAGES.tooLarge(2, 'large_photo.jpg', 15 * 1024 * 1024)).toBe(
      "The 2nd image 'large_photo.jpg' size is 15.00MB, exceeds the maximum limit of 10MB.",
    );
    expect(MESSAGES.badExtension(1, 'document.pdf', 'pdf')).toBe("The 1st file 'document.pdf' extension 'pdf' is not supported.");
    expect(MESSAGES.badExtension(3, 'x.doc', 'doc')).toMatch(/^The 3rd file/);
  });
});

describe('extensions and ZIP entries', () => {
  it('extensionOf', () => {
    expect(extensionOf('a.JPG')).toBe('jpg');
    expect(extensionOf('archive.tar.gz')).toBe('gz');
    expect(extensionOf('noext')).toBe('');
    expect(extensionOf('dir.v2/noext')).toBe('');
  });
  it('isZipImageEntry', () => {
    expect(isZipImageEntry('a/b/c.png')).toBe(true);
    expect(isZipImageEntry('a/')).toBe(false);
    expect(isZipImageEntry('x.txt')).toBe(false);
    expect(isZipImageEntry('inner.zip')).toBe(false);
    expect(isZipImageEntry('__MACOSX/a/._c.png')).toBe(false);
    expect(isZipImageEntry('a/._c.png')).toBe(false);
  });
});

describe('mulberry32', () => {
  it('is deterministic per seed and spreads over [0,1)', () => {
    const a = mulberry32(7);
    const b = mulberry32(7);
    const xs = Array.from({ length: 1000 }, () => a());
    expect(Array.from({ length: 1000 }, () => b())).toEqual(xs);
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(mean).toBeGreaterThan(0.45);
    expect(mean).toBeLessThan(0.55);
    expect(mulberry32(8)()).not.toBe(mulberry32(7)());
  });
});

describe('Base64Decoder', () => {
  const decodeInPieces = (text: string, piece: number) => {
    const d = new Base64Decoder();
    const out: Buffer[] = [];
    const raw = Buffer.from(text, 'latin1');
    for (let i = 0; i < raw.length; i += piece) out.push(d.push(raw.subarray(i, i + piece)));
    out.push(d.end());
    return { invalid: d.invalid, bytes: Buffer.concat(out), size: d.decodedSize };
  };

  it('decodes across arbitrary chunk boundaries, with padding, whitespace and URL-safe chars', () => {
    for (const len of [0, 1, 2, 3, 4, 5, 100, 1001]) {
      const data = randomBytes(len);
      for (const piece of [1, 3, 7, 64]) {
        const std = decodeInPieces(data.toString('base64'), piece);
        expect(std.invalid).toBe(false);
        expect(std.bytes.equals(data)).toBe(true);
        expect(std.size).toBe(len);
        const wrapped = decodeInPieces(data.toString('base64').replace(/(.{10})/g, '$1\r\n'), piece);
        expect(wrapped.bytes.equals(data)).toBe(true);
        const url = decodeInPieces(data.toString('base64url'), piece);
        expect(url.invalid).toBe(false);
        expect(url.bytes.equals(data)).toBe(true);
      }
    }
  });

  it('rejects what is not Base64', () => {
    for (const bad of ['data:image/png;base64,AAAA', 'AAAAA', 'AA=A', 'A===', 'QQ==QQ==', 'ab$d']) {
      expect(decodeInPieces(bad, 2).invalid, bad).toBe(true);
    }
  });
});

describe('JsonScanner', () => {
  class Rec implements JsonHandler {
    ev: string[] = [];
    private parts: Buffer[] = [];
    startObject() {
      this.ev.push('{');
    }
    endObject() {
      this.ev.push('}');
    }
    startArray() {
      this.ev.push('[');
    }
    endArray() {
      this.ev.push(']');
    }
    key(k: string) {
      this.ev.push(`k:${k}`);
    }
    startString() {
      this.parts = [];
    }
    stringChunk(c: Buffer) {
      this.parts.push(Buffer.from(c));
    }
    endString() {
      this.ev.push(`s:${Buffer.concat(this.parts).toString('utf8')}`);
    }
    value(v: number | boolean | null) {
      this.ev.push(`v:${String(v)}`);
    }
  }

  const scan = (text: string, piece = 1) => {
    const r = new Rec();
    const s = new JsonScanner(r);
    const buf = Buffer.from(text, 'utf8');
    for (let i = 0; i < buf.length; i += piece) s.write(buf.subarray(i, i + piece));
    s.end();
    return r.ev;
  };

  it('tokenizes the same whatever the chunking', () => {
    const doc = '\uFEFF{"a": [1, -2.5e3, true, false, null, "x\\"y\\\\z\\n\\u00e9\\ud83d\\ude00"], "b": {}, "c": [], "d\\u0041": "ü"}';
    const want = ['{', 'k:a', '[', 'v:1', 'v:-2500', 'v:true', 'v:false', 'v:null', 's:x"y\\z\né😀', ']', 'k:b', '{', '}', 'k:c', '[', ']', 'k:dA', 's:ü', '}'];
    for (const piece of [1, 2, 5, 1000]) expect(scan(doc, piece)).toEqual(want);
    expect(scan('42')).toEqual(['v:42']);
    expect(scan(' "top" ')).toEqual(['s:top']);
  });

  it('throws on malformed input', () => {
    for (const bad of ['{', '{"a" 1}', '{"a":1,}', '[1,]', '[1 2]', '{"a":tru}', '01', '"a\u0001"', '{} x', '{"a":"\\x"}', '', '-', '1.']) {
      expect(() => scan(bad), bad).toThrow(JsonSyntaxError);
    }
  });
});

describe('isLoopback and sniffing', () => {
  it('only loopback names and addresses', () => {
    for (const h of ['localhost', '127.0.0.1', '127.1.2.3', '[::1]', '::1', 'api.localhost', '[::ffff:127.0.0.1]']) expect(isLoopback(h), h).toBe(true);
    for (const h of ['example.com', '10.0.0.1', '192.168.1.1', '0.0.0.0', '[::]', '128.0.0.1', 'localhost.example.com']) expect(isLoopback(h), h).toBe(false);
  });
  it('sniffs common image types', () => {
    expect(sniffExt(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0]))).toBe('png');
    expect(sniffExt(Buffer.from([0xff, 0xd8, 0xff, 0xe0]))).toBe('jpg');
    expect(sniffExt(Buffer.from('GIF89a'))).toBe('gif');
    expect(sniffExt(Buffer.from('RIFF\0\0\0\0WEBPVP8 '))).toBe('webp');
    expect(sniffExt(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'))).toBe('svg');
    expect(sniffExt(Buffer.from('hello'))).toBeUndefined();
  });
});
