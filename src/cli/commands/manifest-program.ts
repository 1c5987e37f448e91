/**
 * commander wiring of `batchup manifest merge|show|urls|verify`: flags and help only; the
 * actions load ./manifest.js lazily. These commands read manifests (and, for verify, the URLs in
 * them): no provider, endpoint or token is involved.
 */
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { examples } from '../flags.js';

export interface ManifestHooks {
  setExit: (code: number) => void;
  installSignals: () => void;
}

export function addManifestCommand(program: Command, ctx: CliContext, hooks: ManifestHooks): void {
  const load = () => import('./manifest.js');
  const group = program
    .command('manifest')
    .description('work with manifests: merge shards, show entries, list URLs, verify they still work')
    .addHelpText(
      'after',
      examples([
        'batchup manifest merge manifest-*.json -o manifest.json',
        'batchup manifest show manifest.json --status failed,rejected',
        'batchup manifest urls manifest.json | xargs -n 50 some-tool',
        'batchup manifest verify manifest.json --within 7d',
      ]),
    );
  group
    .command('merge')
    .description("combine the manifests of a run's shards (--shard K/N) into one; refuses conflicts (exit 2, each listed)")
    .argument('<manifests...>', 'manifest files, one per shard')
    .option('-o, --output <file>', 'write the merged manifest here (atomically) instead of stdout')
    .addHelpText(
      'after',
      `${examples(['batchup manifest merge shard-1.json shard-2.json shard-3.json -o manifest.json', 'batchup manifest merge batchup-manifest.shard-*.json > manifest.json'])}
Conflicts: manifests of different providers, endpoints or versions; one source with different
outcomes or URLs; shards of different totals, a shard given twice or missing.\n`,
    )
    .action(async (files: string[], opts: { output?: string }) => hooks.setExit(await (await load()).mergeCommand(files, opts, ctx)));
  group
    .command('show')
    .description('the entries as a table: status, source, URL or why not')
    .argument('<manifest>')
    .option('--status <list>', 'only entries with these statuses (comma list of uploaded, skipped, rejected, failed)')
    .option('--json', 'the entries as JSON lines instead')
    .addHelpText('after', examples(['batchup manifest show manifest.json', 'batchup manifest show manifest.json --status failed --json']))
    .action(async (file: string, opts: { status?: string; json?: boolean }) => hooks.setExit(await (await load()).showCommand(file, opts, ctx)));
  group
    .command('urls')
    .description('every output URL, one per line (each once), for piping into other tools')
    .argument('<manifest>')
    .addHelpText(
      'after',
      examples(['batchup manifest urls manifest.json > urls.txt', 'batchup upload --urls <(batchup manifest urls bach.json) --provider claid …']),
    )
    .action(async (file: string) => hooks.setExit(await (await load()).urlsCommand(file, ctx)));
  group
    .command('verify')
    .description('HEAD every output URL (GET where HEAD is refused): report dead ones and ones expiring soon')
    .argument('<manifest>')
    .option('--within <duration>', 'report URLs that expire within this long (default 3d)')
    .option('--concurrency <n>', 'URLs checked at once (default 8)')
    .option('--timeout <duration>', 'per-request timeout (default 30s)')
    .option('--json', 'one JSON object: the counts and every URL with its state')
    .addHelpText(
      'after',
      `${examples(['batchup manifest verify manifest.json', 'batchup manifest verify manifest.json --within 7d --json'])}
Exit 0 when every URL answers and none expires within --within; 3 otherwise.\n`,
    )
    .action(async (file: string, opts: { within?: string; concurrency?: string; timeout?: string; json?: boolean }) => {
      ctx.json = Boolean(opts.json);
      hooks.installSignals();
      hooks.setExit(await (await load()).verifyCommand(file, opts, ctx));
    });
}
