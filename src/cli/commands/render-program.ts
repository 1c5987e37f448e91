/**
 * `batchup render SPEC...`: render batches on blurb. It is the upload pipeline (settings, journal,
 * manifest, exit codes, --sandbox, renderers: commands/upload.ts) with the provider fixed to
 * blurb, and the flags that make sense for render jobs — blurb's own (webhooks, asset base URL,
 * template) come from its module, so they stay in one place.
 */
import type { Command } from 'commander';
import type { ProviderDeclaration } from '../../core/provider.js';
import type { CliContext } from '../context.js';
import { optionOf } from '../flags.js';
import { addRequestAndOutputFlags, addRunFlags } from '../run-flags.js';

export interface RenderHooks {
  setExit: (code: number) => void;
  installSignals: () => void;
  /** The providers' declarations: render is blurb's (no command when it is not among them). */
  providers?: readonly ProviderDeclaration[];
}

export function addRenderCommand(program: Command, ctx: CliContext, hooks: RenderHooks): void {
  const provider = hooks.providers?.find((p) => p.name === 'blurb');
  if (!provider) return;
  const cmd = program
    .command('render')
    .description('render promo videos on blurb: SPEC files of batches (JSON, JSON lines, or a CSV of tracks with --template)')
    .argument('<specs...>', 'spec files (asset paths in them are relative to the spec)')
    .option('--endpoint <url>', `blurb API origin (default ${provider.defaultEndpoint})`)
    .option('--token-file <file>', 'read the API token from this file (mode 0600; default env BATCHUP_TOKEN)')
    .option('--manifest <path>', 'where to write the manifest: one entry per render (default batchup-manifest.json)')
    .option('--sandbox', 'run against an in-process sandbox, which also hosts the local assets (offline demo)')
    .option('--dry-run', 'check the specs and their assets, print the plan; create nothing')
    .option('--download <dir>', 'save every finished render into DIR')
    .option('--concurrency <n>', 'batches in flight at once (default 4)')
    .option('--state <dir>', 'journal folder (default: .batchup/ beside the manifest)')
    .option('--force', 'render every batch again, even those the journal knows as done')
    .option('--max-duration <duration>', 'stop gracefully after this long, like Ctrl-C');
  addRequestAndOutputFlags(cmd, 'per-render results');
  addRunFlags(cmd);
  for (const f of provider.flags) cmd.addOption(optionOf(f));
  cmd.addHelpText(
    'after',
    [
      '',
      'Examples:',
      '  batchup render promo.json --sandbox',
      '  batchup render catalog.csv --template renders.json --asset-base-url https://cdn.example.com/promo/ --manifest renders.json',
      '  batchup render promo.json --webhook-listen 0.0.0.0:8787 --webhook-url https://hooks.example.com/blurb --download out/',
      '',
    ].join('\n'),
  );
  cmd.action(async (specs: string[], opts: Record<string, unknown>) => {
    ctx.json = Boolean(opts.json);
    ctx.verbose = Boolean(opts.verbose);
    hooks.installSignals();
    const { runUploadCommand } = await import('./upload.js');
    // An endpoint configured for another provider (env, config file) is not blurb's.
    if (opts.endpoint === undefined && !opts.sandbox) {
      const { resolveSettings } = await import('../config.js');
      const s = await resolveSettings({}, { env: ctx.env, checkConfigMode: false }).catch(() => undefined);
      if (s?.endpoint && s.provider !== provider.name) opts.endpoint = provider.defaultEndpoint;
    }
    hooks.setExit(await runUploadCommand(specs, { ...opts, provider: provider.name }, ctx));
  });
}
