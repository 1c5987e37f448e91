/** blurb without the network: the body contract, spec expansion (JSON, JSON lines, CSV + template), options, the webhook receiver. */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CheckContext } from '../../src/core/provider.js';
import { checkBody } from '../../src/providers/blurb/contract.js';
import { blurbOptions, parseListen, type BlurbOptions } from '../../src/providers/blurb/options.js';
import { WebhookReceiver } from '../../src/providers/blurb/receiver.js';
import { derivedRef, expandSpec, type SpecPayload } from '../../src/providers/blurb/spec.js';
import { tempDir } from '../helpers/cli.js';
import { batch } from '../helpers/blurb.js';

const URLS = { artwork: 'https://cdn.example/a.png', audio: 'https://cdn.example/s.mp3' };

function ctx(o: Partial<BlurbOptions> = {}, cwd = '/'): CheckContext<BlurbOptions> {
  return { http: undefined as never, options: { sandboxAssets: false, resubmit: [], ...o }, signal: new AbortController().signal, cwd, concurrency: 4 };
}

async function expand(dir: string, name: string, text: string, o: Partial<BlurbOptions> = {}) {
  const path = join(dir, name);
  await writeFile(path, text);
  return expandSpec({ source: path, kind: 'file', path, size: text.length, order: 3 }, ctx(o, dir));
}

describe('blurb contract: checkBody', () => {
  it('takes the seed example', () => {
    expect(checkBody(batch('x', URLS, 2))).toEqual([]);
  });

  it('names every field that breaks a rule', () => {
    const b: any = batch('x', URLS, 1);
    b.colour = 'red';
    b.artistId = 'artist-1';
    b.renders[0].videoSettings.aspectRatio = '21x9';
    b.renders[0].videoSettings.outputQuality = 'ULTRA';
    b.renders[0].videoSettings.audioStartEndSecs = { start: 20, end: 10 };
    b.renders[0].videoSettings.numVideos = 11;
    b.media.audioUrl = 'ftp://x/y.mp3';
    const fields = checkBody(b).map((p) => `${p.field}:${p.rule}`);
    expect(fields).toEqual(
      expect.arrayContaining([
        'colour:unknown-field',
        'artistId:conflict',
        'renders[0].videoSettings.aspectRatio:enum',
        'renders[0].videoSettings.outputQuality:enum',
        'renders[0].videoSettings.audioStartEndSecs:range',
        'renders[0].videoSettings.numVideos:range',
        'media.audioUrl:url',
      ]),
    );
    expect(checkBody({ artist: 'artist-1', mediaId: 'm-1', renders: [] }).map((p) => p.field)).toEqual(['renders']);
    expect(checkBody({ renders: [{ contentId: 'C' }] }).map((p) => p.field)).toEqual(['artist', 'media']);
  });
});

describe('blurb specs', () => {
  it('a JSON array: one item per batch, sources <spec>#<ref>, derived refs that do not move with position', async () => {
    const dir = await tempDir('batchup-blurb-unit-');
    const a = batch(undefined, URLS, 1);
    const b = batch('named', URLS, 2);
    const first = await expand(dir, 'one.json', JSON.stringify([a, b]));
    expect(first.rejections).toEqual([]);
    expect(first.items.map((it) => it.source)).toEqual([`${join(dir, 'one.json')}#${derivedRef(a)}`, `${join(dir, 'one.json')}#named`]);
    expect(first.items.every((it) => it.order > 3 && it.order < 4)).toBe(true);
    // Inserting a batch in front changes neither source.
    const second = await expand(dir, 'one.json', JSON.stringify([batch('new', URLS), a, b]));
    expect(second.items.map((it) => it.source).slice(1)).toEqual(first.items.map((it) => it.source));
    expect((second.items[1]!.payload as SpecPayload).position).toBe('batch 2');
  });

  it('JSON lines, a duplicate ref, and a spec that is none', async () => {
    const dir = await tempDir('batchup-blurb-unit-');
    const r = await expand(dir, 'lines.jsonl', [batch('a', URLS), batch('a', URLS)].map((x) => JSON.stringify(x)).join('\n'));
    expect(r.items).toHaveLength(1);
    expect(r.rejections[0]!.message).toMatch(/#a: line 2 \(ref a\): ref: 'a' is also the ref of line 1 of this spec \(invalid-spec\)$/);
    const junk = await expand(dir, 'junk.json', 'hello');
    expect(junk.rejections[0]).toMatchObject({ source: join(dir, 'junk.json'), rule: 'invalid-spec' });
  });

  it('local assets: rejected without a place to publish them, kept (absolute) with one', async () => {
    const dir = await tempDir('batchup-blurb-unit-');
    const text = JSON.stringify(batch('l', { artwork: 'art/a.png', audio: 'audio/s.mp3' }));
    const none = await expand(dir, 'l.json', text);
    expect(none.rejections[0]!.rule).toBe('bad-url');
    expect(none.rejections[0]!.message).toContain('--asset-base-url URL, or run with --sandbox');
    const ok = await expand(dir, 'l.json', text, { assetBaseUrl: 'https://cdn.example/promo/' });
    expect((ok.items[0]!.payload as SpecPayload).assets.map((x) => x.local)).toContain(join(dir, 'audio', 's.mp3'));
  });

  it('a CSV catalog with --template: one batch per row, {{column}} filled, missing columns named', async () => {
    const dir = await tempDir('batchup-blurb-unit-');
    await mkdir(join(dir, 't'), { recursive: true });
    await writeFile(
      join(dir, 't', 'renders.json'),
      JSON.stringify([{ contentId: 'BASE_BASIC_UNIFIED', requiredData: { customText: '{{title}} — out {{date}}' }, videoSettings: { aspectRatio: '1x1' } }]),
    );
    const csv = 'Artist,Title,Audio,Artwork,Date\n"Doe, Jane",First,https://c/1.mp3,https://c/1.png,Friday\nBand,"Say ""hi""",https://c/2.mp3,,Monday\n';
    const r = await expand(dir, 'cat.csv', csv, { template: join(dir, 't', 'renders.json') });
    expect(r.rejections).toEqual([]);
    const bodies = r.items.map((it) => (it.payload as SpecPayload).body as any);
    expect(bodies[0].artist).toEqual({ name: 'Doe, Jane', artworkUrl: 'https://c/1.png' });
    expect(bodies[0].renders[0].requiredData.customText).toBe('First — out Friday');
    expect(bodies[1].media).toEqual({ name: 'Say "hi"', audioUrl: 'https://c/2.mp3' });
    expect((r.items[1]!.payload as SpecPayload).position).toBe('row 3');
    const noTemplate = await expand(dir, 'cat.csv', csv);
    expect(noTemplate.rejections[0]!.message).toContain('needs --template FILE');
  });
});

describe('blurb options', () => {
  it('parses --webhook-listen and refuses what cannot work', () => {
    expect(parseListen('8787')).toEqual({ host: '127.0.0.1', port: 8787 });
    expect(parseListen('[::1]:9000')).toEqual({ host: '::1', port: 9000 });
    expect(() => parseListen('host:99999')).toThrow(/\[HOST:\]PORT/);
    expect(() => blurbOptions({ webhookUrl: 'https://x/y' }, {})).toThrow(/needs --webhook-listen/);
    expect(() => blurbOptions({ webhookListen: '0.0.0.0:8787' }, {})).toThrow(/give --webhook-url too/);
    expect(() => blurbOptions({ assetBaseUrl: 'https://x/' }, { sandbox: true })).toThrow(/cannot be combined/);
    expect(blurbOptions({ webhookListen: '8787', webhookPoll: '5s', assetBaseUrl: 'https://x/p' }, {})).toMatchObject({
      webhook: { host: '127.0.0.1', port: 8787, safetyPollMs: 5000 },
      assetBaseUrl: 'https://x/p/',
    });
  });
});

describe('blurb webhook receiver', () => {
  it('wakes only the waiter of a batch of this run; refuses what is not a small JSON POST; remembers an early one', async () => {
    const r = await WebhookReceiver.start('127.0.0.1', 0);
    const url = `http://127.0.0.1:${r.port}/batchup/webhook`;
    const post = (body: string, type = 'application/json') => fetch(url, { method: 'POST', headers: { 'content-type': type }, body }).then((x) => x.status);
    try {
      r.watch('b-1');
      const signal = new AbortController().signal;
      const waiting = r.next('b-1', 60_000, signal);
      expect(await post(JSON.stringify({ batchId: 'other', status: 'COMPLETE' }))).toBe(204);
      expect(await post(JSON.stringify({ batchId: 'b-1', status: 'COMPLETE', renderUrl: 'http://evil/' }))).toBe(204);
      expect(await waiting).toBe('webhook');
      expect(await post('not json')).toBe(400);
      expect(await post('{}', 'text/plain')).toBe(415);
      expect(await fetch(url).then((x) => x.status)).toBe(405);
      expect(await post(JSON.stringify({ batchId: 'b-1', pad: 'x'.repeat(20_000) })).catch(() => 413)).toBe(413);
      // A webhook before its batch is known counts once the batch is watched.
      expect(await post(JSON.stringify({ batchId: 'b-2' }))).toBe(204);
      r.watch('b-2');
      expect(await r.next('b-2', 60_000, signal)).toBe('webhook');
      expect(await r.next('b-1', 10, signal)).toBe('timer');
      expect(r.counts).toMatchObject({ accepted: 1 });
    } finally {
      await r.close();
    }
  });
});
