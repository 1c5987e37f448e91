/**
 * What blurb tests need: assets (a square and a non-square PNG, a real MP3, a WAV), a loopback
 * static server that publishes a folder (URL assets, as a CDN would), and render specs.
 */
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, normalize } from 'node:path';
import { makePng } from '../../src/devtools/generate.js';
import { ROOT } from './cli.js';

/** A mono 16-bit PCM WAV of `ms` milliseconds (honest RIFF/WAVE bytes). */
export function makeWav(ms = 250, rate = 8000): Buffer {
  const data = Buffer.alloc(Math.round((rate * ms) / 1000) * 2);
  for (let i = 0; i < data.length / 2; i++) data.writeInt16LE(Math.round(8000 * Math.sin(i / 5)), i * 2);
  const h = Buffer.alloc(44);
  h.write('RIFF', 0, 'latin1');
  h.writeUInt32LE(36 + data.length, 4);
  h.write('WAVEfmt ', 8, 'latin1');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(1, 22);
  h.writeUInt32LE(rate, 24);
  h.writeUInt32LE(rate * 2, 28);
  h.writeUInt16LE(2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36, 'latin1');
  h.writeUInt32LE(data.length, 40);
  return Buffer.concat([h, data]);
}

/** Writes the assets into `dir`: cover.png (64×64), wide.png (1000×800), track.mp3 (real), song.mp3 (a WAV). */
export async function writeAssets(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'cover.png'), makePng(11, { width: 64, height: 64 }));
  await writeFile(join(dir, 'wide.png'), makePng(12, { width: 1000, height: 800 }));
  await copyFile(join(ROOT, 'fixtures', 'blurb', 'track.mp3'), join(dir, 'track.mp3'));
  await writeFile(join(dir, 'song.mp3'), makeWav());
}

export interface StaticServer {
  url: string;
  /** Requests by path. */
  hits: Map<string, number>;
  close(): Promise<void>;
}

/** Serves `dir` on loopback (GET only; a Range header is ignored: the whole file comes, as from many servers). */
export async function serveFolder(dir: string): Promise<StaticServer> {
  const hits = new Map<string, number>();
  const server: Server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const file = normalize(join(dir, path));
    if (!file.startsWith(dir)) return void res.writeHead(403).end();
    try {
      const body = await readFile(file);
      // A server's Content-Type is not what batchup trusts: say octet-stream for everything.
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hits,
    close: () =>
      new Promise<void>((ok) => {
        server.close(() => ok());
        server.closeAllConnections();
      }),
  };
}

/** A batch body with `renders` renders of the given assets. */
export function batch(ref: string | undefined, assets: { artwork: string; audio: string }, renders = 1): Record<string, unknown> {
  return {
    ...(ref ? { ref } : {}),
    artist: { name: `Artist ${ref ?? ''}`.trim(), artworkUrl: assets.artwork },
    media: { name: `Song ${ref ?? ''}`.trim(), artworkUrl: assets.artwork, audioUrl: assets.audio },
    renders: Array.from({ length: renders }, (_, i) => ({
      contentId: 'BASE_BASIC_UNIFIED',
      requiredData: { customText: `take ${i + 1}` },
      videoSettings: { numVideos: 1, aspectRatio: i % 2 ? '9x16' : '16x9', audioStartEndSecs: { start: 0, end: 15 }, outputQuality: 'PREVIEW' },
    })),
  };
}

/** What `GET /_sandbox/blurb` says: every batch with its view and trace. */
export async function sandboxBatches(origin: string): Promise<any> {
  return (await fetch(`${origin}/_sandbox/blurb`)).json();
}
