/**
 * The README's sharding recipes, their command lines run as written (read with a YAML parser):
 * the GitHub Actions matrix (`${{ matrix.shard }}` for each value, then the merge job's line), the
 * GitLab `parallel` job (CI_NODE_INDEX/CI_NODE_TOTAL as GitLab sets them) and the Kubernetes
 * Indexed Job (each pod's command with `$(JOB_COMPLETION_INDEX)` expanded as Kubernetes does, the
 * index in its env, the volumes mapped to folders). `batchup` on PATH is the built CLI; the
 * endpoint and token are a local sandbox's; `npm install -g` lines are the only ones left out.
 * Each recipe must upload every file exactly once, and its merge must hold them all.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { mkdir, readFile, symlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parse } from 'yaml';
import { BIN, ROOT, cleanEnv, readJson, serve, tempDir, type ServeHandle } from '../helpers/cli.js';
import { writePngs } from '../../src/devtools/generate.js';

const TOKEN = 'tok-recipes-61d0';
const FILES = 40;
let sandbox: ServeHandle;
let readme: string;

beforeAll(async () => {
  sandbox = await serve(['--token', TOKEN, '--process-ms', '0']);
  readme = await readFile(join(ROOT, 'README.md'), 'utf8');
});
afterAll(async () => {
  await sandbox?.stop();
});

/** The README's ```yaml block that contains `marker`, parsed. */
function yamlBlock(marker: string): any {
  for (const m of readme.matchAll(/```yaml\n([\s\S]*?)```/g)) if (m[1]!.includes(marker)) return parse(m[1]!);
  throw new Error(`no yaml block with ${marker} in the README`);
}

/** A job's folder with the media, and an env where `batchup` is the built CLI. */
async function workspace(seed: number) {
  const dir = await tempDir('batchup-recipe-');
  await writePngs(join(dir, 'media'), FILES, { seedBase: seed });
  const bin = join(dir, '.bin');
  await mkdir(bin);
  await symlink(BIN, join(bin, 'batchup'));
  const env = cleanEnv({ BATCHUP_TOKEN: TOKEN, BATCHUP_ENDPOINT: sandbox.bach });
  env.PATH = `${bin}:${dirname(process.execPath)}:${env.PATH}`;
  return { dir, env };
}

const sh = (line: string, cwd: string, env: Record<string, string>) =>
  execa('bash', ['-eo', 'pipefail', '-c', line], { cwd, env, extendEnv: false, reject: false });
const notInstall = (line: string) => !/npm (install|ci|pack)/.test(line);

async function expectAllOnce(path: string, dir: string) {
  const merged = await readJson(path);
  expect(merged.entries.map((e: { source: string }) => e.source)).toEqual(
    Array.from({ length: FILES }, (_, i) => join(dir, 'media', `img-${String(i).padStart(5, '0')}.png`)),
  );
  expect(merged.entries.every((e: { status: string; url?: string }) => e.status === 'uploaded' && e.url)).toBe(true);
}

describe('sharding recipes (README), run as written', () => {
  it('GitHub Actions: every matrix value runs the upload step, then the merge job merges and verifies', async () => {
    const wf = yamlBlock('strategy:');
    const { dir, env } = await workspace(71_000);
    const matrix: number[] = wf.jobs.upload.strategy.matrix.shard;
    const runs: { run: string; env?: Record<string, string> }[] = wf.jobs.upload.steps.filter((s: { run?: string }) => s.run && notInstall(s.run));
    expect(runs).toHaveLength(1);
    // The step's env names the secret and the endpoint: here, the local sandbox's.
    expect(Object.keys(runs[0]!.env!)).toEqual(['BATCHUP_TOKEN', 'BATCHUP_ENDPOINT']);
    const results = await Promise.all(matrix.map((shard) => sh(runs[0]!.run.replace(/\$\{\{\s*matrix\.shard\s*\}\}/g, String(shard)), dir, env)));
    for (const r of results) expect(r.exitCode, r.stderr).toBe(0);
    const merge = wf.jobs.merge.steps.filter((s: { run?: string }) => s.run && notInstall(s.run));
    expect(merge).toHaveLength(1);
    const m = await sh(merge[0].run, dir, env);
    expect(m.exitCode, m.stderr).toBe(0);
    expect(m.stdout).toMatch(new RegExp(`verified ${FILES} URLs .*: ${FILES} ok`));
    await expectAllOnce(join(dir, 'manifest.json'), dir);
  });

  it('GitLab: `parallel: N` jobs with CI_NODE_INDEX/CI_NODE_TOTAL, then the merge job', async () => {
    const ci = yamlBlock('parallel:');
    const { dir, env } = await workspace(72_000);
    const total: number = ci.upload.parallel;
    const results = await Promise.all(
      Array.from({ length: total }, (_, i) => {
        const lines = (ci.upload.script as string[]).filter(notInstall);
        return sh(lines.join('\n'), dir, { ...env, CI_NODE_INDEX: String(i + 1), CI_NODE_TOTAL: String(total), GITLAB_CI: 'true' });
      }),
    );
    for (const r of results) expect(r.exitCode, r.stderr).toBe(0);
    const m = await sh((ci.merge.script as string[]).filter(notInstall).join('\n'), dir, env);
    expect(m.exitCode, m.stderr).toBe(0);
    await expectAllOnce(join(dir, 'manifest.json'), dir);
  });

  it('Kubernetes Indexed Job: each pod runs the command with $(JOB_COMPLETION_INDEX) expanded; the manifests merge', async () => {
    const job = yamlBlock('completionMode: Indexed');
    expect(job.spec.completionMode).toBe('Indexed');
    const { dir, env } = await workspace(73_000);
    const container = job.spec.template.spec.containers[0];
    const mounts = Object.fromEntries(container.volumeMounts.map((v: { name: string; mountPath: string }) => [v.mountPath, v.name]));
    expect(mounts).toEqual({ '/data': 'media', '/out': 'out' });
    // The volumes as folders: /data is the workspace (the media are under it), /out a folder beside.
    const volume = (path: string) => path.replace(/^\/out\//, `${dir}/out/`).replace(/^\/data\b/, dir);
    const pods = Array.from({ length: job.spec.completions as number }, (_, index) => {
      const argv = (container.command as string[]).map((a) => volume(a.replace(/\$\(JOB_COMPLETION_INDEX\)/g, String(index))));
      expect(argv[0]).toBe('batchup');
      return execa(argv[0]!, argv.slice(1), {
        cwd: volume(container.workingDir),
        env: { ...env, JOB_COMPLETION_INDEX: String(index) },
        extendEnv: false,
        reject: false,
      });
    });
    for (const r of await Promise.all(pods)) expect(r.exitCode, r.stderr).toBe(0);
    const names = Array.from({ length: job.spec.completions as number }, (_, i) => join(dir, 'out', `manifest-${i}.json`));
    const m = await execa('batchup', ['manifest', 'merge', ...names, '-o', join(dir, 'manifest.json')], { cwd: dir, env, extendEnv: false, reject: false });
    expect(m.exitCode, m.stderr).toBe(0);
    await expectAllOnce(join(dir, 'manifest.json'), dir);
  });
});
