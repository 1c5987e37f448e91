import { afterAll, describe, expect, it } from 'vitest';
import { deflateRawSync } from 'node:zlib';
import type { ValidationPolicy } from '../../src/core/types.js';
import { bachPolicy } from '../../src/providers/bach/policy.js';
import { fixture, makeZip, messageOf, ruleOf, tempDir, validatePath, type ZipEntrySpec } from './validate-helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const zip = async (name: string, entries: ZipEntrySpec[], opts: { overlap?: boolean } = {}, policy: ValidationPolicy = bachPolicy) =>
  validatePath(tmp.write(name, makeZip(entries, opts)), policy);

const png = fixture('gradient.png');
const jpg = fixture('photo.jpg');

describe('ZIP: accepted archives', () => {
  it('lists images and skips directories, macOS junk and non-images', async () => {
    const r = await zip('ok.zip', [
      { name: 'photos/', method: 0 },
      { name: 'photos/a.png', data: png },
      { name: 'photos/b b (1).JPG', data: jpg, method: 0 },
      { name: '__MACOSX/photos/._a.png', data: Buffer.from('AppleDouble junk') },
      { name: 'photos/._b.jpg', data: Buffer.from('junk') },
      { name: 'readme.txt', data: Buffer.from('hello') },
      { name: 'kuvat/kissa ä.png', data: png },
    ]);
    expect(messageOf(r)).toBe('');
    if (!r.ok) return;
    expect(r.item.zipEntries).toEqual([
      { path: 'photos/a.png', size: png.length, format: 'png' },
      { path: 'photos/b b (1).JPG', size: jpg.length, format: 'jpg' },
      { path: 'kuvat/kissa ä.png', size: png.length, format: 'png' },
    ]);
    expect(r.item.zipSkipped).toEqual([
      { path: 'photos/', reason: 'directory' },
      { path: '__MACOSX/photos/._a.png', reason: 'macOS metadata (__MACOSX)' },
      { path: 'photos/._b.jpg', reason: 'macOS metadata (AppleDouble)' },
      { path: 'readme.txt', reason: 'not an image' },
    ]);
  });

  it('is empty-zip when nothing inside is an image', async () => {
    const r = await zip('docs.zip', [
      { name: 'a.txt', data: Buffer.from('x') },
      { name: 'd/', method: 0 },
    ]);
    expect(messageOf(r)).toBe('docs.zip: contains no images (empty-zip)');
  });
});

describe('ZIP: unsafe names and entries', () => {
  it.each([
    ['../evil.png', "entry '../evil.png' escapes the archive"],
    ['a/../../evil.png', "entry 'a/../../evil.png' escapes the archive"],
    ['/etc/evil.png', "entry '/etc/evil.png' is an absolute path"],
    ['C:/evil.png', "entry 'C:/evil.png' is an absolute path"],
    ['..\\evil.png', "entry '..\\evil.png' uses backslash path separators"],
    ['a\u0000.png', "entry 'a\\x00.png' has control characters in its name"],
  ])('rejects %j', async (name, detail) => {
    const r = await zip('evil.zip', [
      { name: 'ok.png', data: png },
      { name, data: png },
    ]);
    expect(ruleOf(r)).toBe('unsafe-zip');
    expect(messageOf(r)).toBe(`evil.zip: ${detail} (unsafe-zip)`);
  });

  it('does not mistake a Shift-JIS trail byte for a backslash', async () => {
    // "表.png" in CP932 is 95 5C 2E 70 6E 67: the 0x5C is the second byte of 表.
    const name = Buffer.from([0x95, 0x5c, 0x2e, 0x70, 0x6e, 0x67]);
    const r = await zip('sjis.zip', [{ name, data: png }]);
    expect(messageOf(r)).toBe('');
  });

  it('rejects symlinks and duplicate names', async () => {
    expect(
      messageOf(
        await zip('link.zip', [
          { name: 'a.png', data: png },
          { name: 'l.png', data: Buffer.from('/etc/passwd'), mode: 0o120777, method: 0 },
        ]),
      ),
    ).toBe("link.zip: entry 'l.png' is a symbolic link (unsafe-zip)");
    expect(
      messageOf(
        await zip('dup.zip', [
          { name: 'a.png', data: png },
          { name: 'a.png', data: jpg },
        ]),
      ),
    ).toBe("dup.zip: entry 'a.png' appears more than once (unsafe-zip)");
  });

  it('rejects entries sharing their data (overlapping-entry bomb)', async () => {
    const r = await zip('overlap.zip', [{ name: 'a.png', data: png }], { overlap: true });
    expect(ruleOf(r)).toBe('unsafe-zip');
    expect(messageOf(r)).toContain('overlap');
  });

  it('rejects an entry that inflates past its declared size', async () => {
    const r = await zip('lie.zip', [
      { name: 'a.png', data: png },
      { name: 'b.bin', data: Buffer.alloc(1024 * 1024), declaredSize: 1000 },
    ]);
    expect(messageOf(r)).toBe("lie.zip: entry 'b.bin' inflates past its declared size (unsafe-zip)");
  });

  it('calls an entry that inflates short corrupt', async () => {
    const r = await zip('short.zip', [{ name: 'a.png', data: png, declaredSize: png.length + 10 }]);
    expect(messageOf(r)).toBe("short.zip: entry 'a.png' inflates to fewer bytes than declared (corrupt)");
  });

  it('reports the most serious finding', async () => {
    const r = await zip('both.zip', [
      { name: 'a.txt', data: Buffer.alloc(100), declaredSize: 200 }, // short: corrupt
      { name: 'b.txt', data: Buffer.alloc(5000), declaredSize: 10 }, // long: unsafe
    ]);
    expect(ruleOf(r)).toBe('unsafe-zip');
  });
});

describe('ZIP: bombs', () => {
  it('rejects a highly compressed image entry as zip-bomb (generated at test time)', async () => {
    const zeros = Buffer.alloc(50 * 1024 * 1024);
    const r = await zip('bomb.zip', [{ name: 'zeros.bmp', data: zeros }]);
    expect(ruleOf(r)).toBe('zip-bomb');
    expect(messageOf(r)).toMatch(/^bomb\.zip: entry 'zeros\.bmp' expands \d+× \(limit 200×\) \(zip-bomb\)$/);
  });

  it('rejects declared totals over the limit without inflating', async () => {
    const policy: ValidationPolicy = { ...bachPolicy, zip: { ...bachPolicy.zip, maxTotalUncompressed: 100_000 } };
    const r = await zip('total.zip', [{ name: 'a.bin', data: Buffer.alloc(150_000, 1) }], {}, policy);
    expect(messageOf(r)).toBe('total.zip: declares 0.14 MB uncompressed, over the 0.10 MB limit (zip-bomb)');
  });

  it('rejects too many entries', async () => {
    const policy: ValidationPolicy = { ...bachPolicy, zip: { ...bachPolicy.zip, maxEntries: 3 } };
    const entries = Array.from({ length: 4 }, (_, i) => ({ name: `${i}.png`, data: png }));
    expect(messageOf(await zip('many.zip', entries, {}, policy))).toBe('many.zip: has 4 entries, over the limit of 3 (zip-bomb)');
  });

  it('rejects an image entry over the per-file limit as too-large, naming it', async () => {
    const policy: ValidationPolicy = { ...bachPolicy, maxFileSize: 5000 };
    const r = await zip('large.zip', [{ name: 'big.png', data: png, method: 0 }], {}, policy);
    expect(messageOf(r)).toBe("large.zip: entry 'big.png' is 0.01 MB, over the 0.00 MB limit (too-large)");
  });
});

describe('ZIP: encryption, methods, nesting, content', () => {
  it('rejects encrypted entries', async () => {
    // Traditional encryption: 12-byte header before the (stored) data.
    const sealed = Buffer.concat([Buffer.alloc(12, 7), png]);
    expect(messageOf(await zip('enc.zip', [{ name: 'a.png', data: sealed, flags: 1, method: 0, declaredSize: png.length }]))).toBe(
      "enc.zip: entry 'a.png' is encrypted (encrypted-zip)",
    );
    expect(ruleOf(await zip('aes.zip', [{ name: 'a.png', data: png, flags: 1, method: 99 }]))).toBe('encrypted-zip');
  });

  it('rejects unsupported compression methods', async () => {
    const r = await zip('bz.zip', [{ name: 'a.png', data: deflateRawSync(png), method: 12 }]);
    expect(messageOf(r)).toBe("bz.zip: entry 'a.png' uses unsupported compression method 12 (unsupported-type)");
  });

  it('rejects nested archives by name and by content', async () => {
    const inner = makeZip([{ name: 'x.png', data: png }]);
    expect(
      messageOf(
        await zip('n1.zip', [
          { name: 'a.png', data: png },
          { name: 'inner.zip', data: inner },
        ]),
      ),
    ).toBe("n1.zip: entry 'inner.zip' is an archive inside the archive (nested-zip)");
    expect(
      ruleOf(
        await zip('n2.zip', [
          { name: 'a.png', data: png },
          { name: 'data.bin', data: inner },
        ]),
      ),
    ).toBe('nested-zip');
    expect(ruleOf(await zip('n3.zip', [{ name: 'a.7z', data: Buffer.from('7z\xbc\xaf\x27\x1c', 'latin1') }]))).toBe('nested-zip');
  });

  it('validates each image entry like a file', async () => {
    expect(messageOf(await zip('cut.zip', [{ name: 'a.png', data: png.subarray(0, 3000) }]))).toBe(
      "cut.zip: entry 'a.png': PNG is truncated (inside chunk IDAT) (corrupt)",
    );
    expect(messageOf(await zip('fake.zip', [{ name: 'doc.jpg', data: Buffer.from('%PDF-1.4\n%%EOF\n') }]))).toBe(
      "fake.zip: entry 'doc.jpg': content is PDF, not JPG (disguised)",
    );
    expect(
      ruleOf(
        await zip('svg.zip', [{ name: 'x.svg', data: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><image href="http://e.example/a.png"/></svg>') }]),
      ),
    ).toBe('unsafe-svg');
    expect(ruleOf(await zip('empty-entry.zip', [{ name: 'a.png', data: Buffer.alloc(0) }]))).toBe('empty-file');
  });

  it('rejects a CRC mismatch', async () => {
    expect(messageOf(await zip('crc.zip', [{ name: 'a.png', data: png, crc: 1234 }]))).toBe("crc.zip: entry 'a.png' fails its CRC check (corrupt)");
  });

  it('rejects truncated archives and garbage named .zip', async () => {
    const z = makeZip([{ name: 'a.png', data: png }]);
    expect(ruleOf(await validatePath(tmp.write('cut.zip', z.subarray(0, z.length - 30))))).toBe('corrupt');
    expect(messageOf(await validatePath(tmp.write('text.zip', 'not a zip at all')))).toBe('text.zip: content is text, not ZIP (disguised)');
    expect(ruleOf(await validatePath(tmp.write('png.zip', png)))).toBe('disguised');
  });

  it('applies the archive size limit to the ZIP file itself', async () => {
    const policy: ValidationPolicy = { ...bachPolicy, zip: { ...bachPolicy.zip, maxArchiveSize: 1000 } };
    expect(ruleOf(await zip('huge.zip', [{ name: 'a.png', data: png }], {}, policy))).toBe('too-large');
  });
});
