/**
 * Where the token may go. The built CLI never sends it
 * - over plain http to a host that is not this machine, unless the user opts in
 *   (--allow-insecure-http, said once on stderr) — tried against `batchup serve` listening on
 *   198.18.0.1 inside a network namespace of the test's own (`unshare -n`), where that address is
 *   not loopback;
 * - to another origin after a redirect: an API that redirects its status call elsewhere (a small
 *   local server plays that part: the sandbox never redirects) — the other origin gets the request
 *   without the token.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { BIN, ROOT, cleanEnv, cli, readJson, tempDir } from '../helpers/cli.js';
import { makePng } from '../../src/devtools/generate.js';

const TOKEN = 'tok-credentials-7c41e0';
const servers: Server[] = [];
afterAll(() => {
  for (const s of servers) s.close();
});

async function listen(handler: Parameters<typeof createServer>[1]): Promise<string> {
  const s = createServer(handler);
  servers.push(s);
  await new Promise<void>((ok) => s.listen(0, '127.0.0.1', ok));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

describe('credentials never travel where they should not', () => {
  it('plain http to a non-loopback host: refused before anything is sent (exit 2), unless --allow-insecure-http', async () => {
    const dir = await tempDir('batchup-insecure-');
    const { writeFile, mkdir } = await import('node:fs/promises');
    await mkdir(join(dir, 'in'));
    await writeFile(join(dir, 'in', 'a.png'), makePng(1));
    // Inside a network namespace of its own, 198.18.0.1 is an address of this test's only, and not loopback.
    const script = `
      set -e
      ip addr add 198.18.0.1/32 dev lo; ip link set lo up
      node ${BIN} serve --host 198.18.0.1 --port 0 --data ${dir}/data --token ${TOKEN} > ${dir}/serve.out 2>/dev/null &
      for i in $(seq 1 200); do [ -s ${dir}/serve.out ] && break; sleep 0.05; done
      url=$(head -1 ${dir}/serve.out)
      stats() { node -e "fetch(process.argv[1] + '/_sandbox/stats').then((r) => r.text()).then((t) => console.log(t))" "$url"; }
      set +e
      BATCHUP_TOKEN=${TOKEN} node ${BIN} upload ${dir}/in --endpoint "$url/api/vdr" --manifest ${dir}/m1.json > ${dir}/r1.out 2> ${dir}/r1.err; echo $? > ${dir}/r1.code
      stats > ${dir}/s1.json
      BATCHUP_TOKEN=${TOKEN} node ${BIN} upload ${dir}/in --endpoint "$url/api/vdr" --manifest ${dir}/m2.json --allow-insecure-http > ${dir}/r2.out 2> ${dir}/r2.err; echo $? > ${dir}/r2.code
      stats > ${dir}/s2.json
      kill %1
    `;
    const r = await execa('unshare', ['-n', 'bash', '-c', script], { env: cleanEnv(), extendEnv: false, cwd: ROOT, reject: false });
    expect(r.exitCode, r.stderr).toBe(0);
    const { readFile } = await import('node:fs/promises');
    const text = (f: string) => readFile(join(dir, f), 'utf8');

    expect((await text('r1.code')).trim()).toBe('2');
    expect(await text('r1.err')).toMatch(/refusing to send credentials over plain http to 198\.18\.0\.1:\d+/);
    expect(JSON.parse(await text('s1.json')).requests).toEqual({}); // nothing reached the server

    expect((await text('r2.code')).trim(), await text('r2.err')).toBe('0');
    const err2 = await text('r2.err');
    expect(err2.match(/--allow-insecure-http: credentials and files go to 198\.18\.0\.1:\d+ over plain http/g)).toHaveLength(1);
    expect((await readJson(join(dir, 'm2.json'))).entries[0].status).toBe('uploaded');
    for (const f of ['r1.out', 'r1.err', 'r2.out', 'r2.err']) expect(await text(f)).not.toContain(TOKEN);
  });

  it('a redirect to another origin is followed without the token', async () => {
    const seenElsewhere: IncomingHttpHeaders[] = [];
    const seenApi: IncomingHttpHeaders[] = [];
    const status = {
      code: 200,
      message: 'success',
      data: { batch_id: 'b', total_count: 1, processed_count: 1, success_count: 1, failed_count: 0, status: 'TASK_SUCCEEDED', results: [] as unknown[] },
    };
    const elsewhere = await listen((req, res) => {
      seenElsewhere.push(req.headers);
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(status));
    });
    const api = await listen((req, res) => {
      seenApi.push(req.headers);
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (req.method === 'POST') {
          const id = /name="batch_id"\r\n\r\n([^\r]+)/.exec(Buffer.concat(chunks).toString('latin1'))?.[1] ?? 'b';
          status.data.batch_id = id;
          status.data.results = [{ index: 0, image_name: 'a.png', image_url: 'https://cdn.example/a.png', status: 'TASK_SUCCEEDED' }];
          return res
            .writeHead(200, { 'content-type': 'application/json' })
            .end(JSON.stringify({ code: 200, message: 'success', data: { batch_id: id, total_count: 1, status: 'TASK_PENDING' } }));
        }
        // Every status call is sent to another origin.
        res.writeHead(307, { location: `${elsewhere}${req.url}` }).end();
      });
    });
    const dir = await tempDir('batchup-redirect-');
    const { writeFile, mkdir } = await import('node:fs/promises');
    await mkdir(join(dir, 'in'));
    await writeFile(join(dir, 'in', 'a.png'), makePng(2));
    const r = await cli(['upload', join(dir, 'in'), '--endpoint', `${api}/api/vdr`, '--manifest', join(dir, 'm.json')], {
      env: cleanEnv({ BATCHUP_TOKEN: TOKEN }),
    });
    expect(r.exitCode, r.stderr).toBe(0);
    expect((await readJson(join(dir, 'm.json'))).entries[0]).toMatchObject({ status: 'uploaded', url: 'https://cdn.example/a.png' });
    expect(seenApi.length).toBeGreaterThanOrEqual(2);
    expect(seenApi.every((h) => h.authorization === `Bearer ${TOKEN}`)).toBe(true);
    expect(seenElsewhere.length).toBeGreaterThanOrEqual(1);
    expect(seenElsewhere.every((h) => h.authorization === undefined)).toBe(true);
  });
});
