/**
 * The shape the code keeps, checked on every `npm test`: dependency rules (dependency-cruiser:
 * core knows no provider, CLI or sandbox; providers no CLI or sandbox; one folder per provider;
 * no import circles), lint and format (Biome), no unused exports or dependencies (knip), and no
 * source file over 500 lines.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { ROOT } from './helpers/cli.js';

const bin = (name: string) => join(ROOT, 'node_modules', '.bin', name);
const run = (cmd: string, args: string[]) => execa(bin(cmd), args, { cwd: ROOT, reject: false, env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1' } });

async function sources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await sources(p)));
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

describe('guards', () => {
  it('dependency rules hold (dependency-cruiser)', async () => {
    const r = await run('depcruise', ['src', '--config', '.dependency-cruiser.cjs']);
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(0);
  });

  it('lint and format are clean (Biome)', async () => {
    const r = await run('biome', ['check', '--error-on-warnings', '.']);
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(0);
  });

  it('no unused files, exports or dependencies (knip)', async () => {
    const r = await run('knip', []);
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(0);
  });

  it('no file in src/ over 500 lines', async () => {
    const long: string[] = [];
    for (const f of await sources(join(ROOT, 'src'))) {
      const lines = (await readFile(f, 'utf8')).split('\n').length;
      if (lines > 500) long.push(`${f.slice(ROOT.length + 1)} (${lines} lines)`);
    }
    expect(long).toEqual([]);
  });
});
