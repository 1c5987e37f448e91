/**
 * The installable package and the GitHub Action:
 * - `npm pack` gives a tarball that `npm install -g ./batchup-*.tgz --prefix <empty dir>` installs
 *   (its dependencies from the npm registry) and whose installed `batchup` runs from a folder with
 *   no node_modules in reach: --version, and an upload to a local `batchup serve`;
 * - action.yml's run steps, read with a YAML parser, run as shell scripts with the inputs
 *   substituted the way the runner does (a workflow's `with:` values, the defaults for the rest),
 *   against a local sandbox: the upload, its outputs, annotations and step summary.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parse } from 'yaml';
import { ROOT, cleanEnv, readJson, serve, tempDir, type ServeHandle } from '../helpers/cli.js';
import { writePngs } from '../../src/devtools/generate.js';

const TOKEN = 'tok-pkg-a0b4';
let sandbox: ServeHandle;

beforeAll(async () => {
  sandbox = await serve(['--token', TOKEN]);
});
afterAll(async () => {
  await sandbox?.stop();
});

/** A clean machine's environment: no BATCHUP_*, a fresh HOME, node on PATH. */
async function cleanMachine() {
  const home = await tempDir('batchup-clean-');
  const env = cleanEnv(
    { HOME: home, BATCHUP_TOKEN: TOKEN, BATCHUP_ENDPOINT: sandbox.bach, npm_config_update_notifier: 'false' },
    join(home, '.config', 'batchup'),
  );
  for (const k of Object.keys(env)) if (k.startsWith('npm_') && k !== 'npm_config_update_notifier') delete env[k];
  return { home, env };
}

describe('the package', () => {
  it('npm pack → npm install -g ./batchup-*.tgz in an empty prefix → the installed batchup runs and uploads', async () => {
    const { home, env } = await cleanMachine();
    // --ignore-scripts: dist/ is already built (`npm test` builds first); `prepare` would rebuild it under the other tests' feet.
    const pack = await execa('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', home], {
      cwd: ROOT,
      env: { ...process.env, npm_config_update_notifier: 'false' },
    });
    const [info] = JSON.parse(pack.stdout) as { filename: string; files: { path: string }[] }[];
    const paths = info!.files.map((f) => f.path);
    expect(paths).toContain('bin/batchup.js');
    expect(paths).toContain('dist/bundle/main.mjs');
    expect(paths).toContain('package.json');
    expect(
      paths.every((p) => /^(bin\/|dist\/bundle\/|package\.json$|README\.md$|LICENSE)/.test(p)),
      paths.join(' '),
    ).toBe(true);

    const prefix = join(home, 'prefix');
    const install = await execa('npm', ['install', '-g', `./${info!.filename}`, '--prefix', prefix, '--no-audit', '--no-fund', '--prefer-offline'], {
      cwd: home,
      env,
      extendEnv: false,
      reject: false,
    });
    expect(install.exitCode, install.stderr).toBe(0);
    const installed = join(prefix, 'bin', 'batchup');
    const pkg = await readJson(join(ROOT, 'package.json'));
    const work = join(home, 'work');
    await writePngs(join(work, 'shots'), 5, { seedBase: 66_000 });
    const version = await execa(installed, ['--version'], { cwd: work, env, extendEnv: false });
    expect(version.stdout.trim()).toBe(pkg.version);
    const up = await execa(installed, ['upload', 'shots', '--manifest', 'm.json'], { cwd: work, env, extendEnv: false, reject: false });
    expect(up.exitCode, up.stderr).toBe(0);
    expect(up.stderr).toMatch(/uploaded 5, skipped 0, rejected 0, failed 0/);
    expect((await readJson(join(work, 'm.json'))).entries).toHaveLength(5);
    // It ran from the prefix, not from this checkout.
    expect((await readdir(join(prefix, 'lib', 'node_modules', 'batchup'))).sort()).toEqual(expect.arrayContaining(['bin', 'dist', 'package.json']));
  }, 300_000);

  it("action.yml: its run steps, as shell scripts with the workflow's inputs, install-check and upload a shard, with outputs and a step summary", async () => {
    const action = parse(await readFile(join(ROOT, 'action.yml'), 'utf8')) as {
      inputs: Record<string, { default?: string; required?: boolean }>;
      outputs: Record<string, { value: string }>;
      runs: { using: string; steps: { id?: string; shell: string; run: string; env?: Record<string, string> }[] };
    };
    expect(action.runs.using).toBe('composite');
    const { home, env } = await cleanMachine();
    const workspace = join(home, 'ws');
    await writePngs(join(workspace, 'media'), 6, { seedBase: 67_000 });
    await writeFile(join(workspace, 'media', 'not an image.png'), 'plain text');
    // What a workflow step would say: `with:` (the rest from the defaults), and the token in `env:` from a secret.
    const withValues: Record<string, string> = {
      paths: 'media',
      endpoint: sandbox.bach,
      manifest: 'out/manifest-1.json',
      shard: '1/1',
      args: "--bwlimit 50M --name-template '{stem}-x.{ext}'",
    };
    const inputs = Object.fromEntries(Object.entries(action.inputs).map(([k, v]) => [k, withValues[k] ?? v.default ?? '']));
    for (const [k, v] of Object.entries(action.inputs)) if (v.required) expect(withValues[k], `required input ${k}`).toBeDefined();
    const expr = (text: string) => text.replace(/\$\{\{\s*inputs\.([\w-]+)\s*\}\}/g, (_, k: string) => inputs[k] ?? '');
    const outputFile = join(home, 'github-output');
    const summary = join(home, 'step-summary.md');
    await writeFile(outputFile, '');
    const runner = {
      ...env,
      GITHUB_ACTIONS: 'true',
      GITHUB_ACTION_PATH: ROOT,
      GITHUB_WORKSPACE: workspace,
      GITHUB_OUTPUT: outputFile,
      GITHUB_STEP_SUMMARY: summary,
    };
    const results = [];
    for (const step of action.runs.steps) {
      expect(step.shell).toBe('bash');
      const script = join(home, `step-${results.length}.sh`);
      await mkdir(dirname(script), { recursive: true });
      // The runner writes `run:` to a file and runs `bash --noprofile --norc -eo pipefail {0}`.
      await writeFile(script, expr(step.run));
      const stepEnv = Object.fromEntries(Object.entries(step.env ?? {}).map(([k, v]) => [k, expr(v)]));
      results.push(
        await execa('bash', ['--noprofile', '--norc', '-eo', 'pipefail', script], {
          cwd: workspace,
          env: { ...runner, ...stepEnv },
          extendEnv: false,
          reject: false,
        }),
      );
    }
    const [installStep, uploadStep] = results;
    expect(installStep!.exitCode, installStep!.stderr).toBe(0);
    expect(installStep!.stdout.trim()).toBe((await readJson(join(ROOT, 'package.json'))).version);
    expect(uploadStep!.exitCode, uploadStep!.stderr).toBe(3);
    const outputs = Object.fromEntries(
      (await readFile(outputFile, 'utf8'))
        .trim()
        .split('\n')
        .map((l) => l.split('=') as [string, string]),
    );
    expect(outputs).toEqual({ 'exit-code': '3', manifest: 'out/manifest-1.json' });
    expect(action.outputs['exit-code']!.value).toContain('steps.upload.outputs.exit-code');
    const manifest = await readJson(join(workspace, 'out', 'manifest-1.json'));
    expect(manifest.shard).toEqual({ index: 1, total: 1 });
    expect(manifest.entries.filter((e: { status: string }) => e.status === 'uploaded').map((e: { name: string }) => e.name)).toContain('img-00000-x.png');
    expect(uploadStep!.stderr).toContain('::error file=media/not an image.png,title=batchup%3A rejected (disguised)::');
    const md = await readFile(summary, 'utf8');
    expect(md).toContain('### batchup (bach, shard 1/1): 1 of 7 not done');
    for (const text of [installStep!.stdout, installStep!.stderr, uploadStep!.stdout, uploadStep!.stderr, md]) expect(text).not.toContain(TOKEN);
  });

  it('action.yml: a checkout without dist/ installs and builds with npm ci (a stand-in npm records the call)', async () => {
    const action = parse(await readFile(join(ROOT, 'action.yml'), 'utf8')) as { runs: { steps: { run: string }[] } };
    const { home, env } = await cleanMachine();
    const checkout = join(home, 'action');
    const fakeBin = join(home, 'fakebin');
    await mkdir(join(checkout, 'bin'), { recursive: true });
    await mkdir(fakeBin);
    // The stand-in "builds": it writes dist/bundle/main.mjs, which the checkout's bin/batchup.js then loads.
    await writeFile(
      join(fakeBin, 'npm'),
      `#!/bin/sh\necho "npm $*" >> "${home}/npm-calls"\nmkdir -p "$3/dist/bundle" && printf 'export const main = async () => { console.log("built"); return 0; };\\n' > "$3/dist/bundle/main.mjs"\n`,
      { mode: 0o755 },
    );
    await writeFile(join(checkout, 'bin', 'batchup.js'), await readFile(join(ROOT, 'bin', 'batchup.js')));
    const r = await execa('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', action.runs.steps[0]!.run], {
      env: { ...env, PATH: `${fakeBin}:${env.PATH}`, GITHUB_ACTION_PATH: checkout },
      extendEnv: false,
      reject: false,
    });
    expect(r.exitCode, r.stderr).toBe(0);
    expect((await readFile(join(home, 'npm-calls'), 'utf8')).trim()).toBe(`npm ci --prefix ${checkout} --no-audit --no-fund`);
    expect(r.stdout.trim()).toBe('built');
  });
});
