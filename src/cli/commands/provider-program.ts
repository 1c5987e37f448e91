/**
 * commander wiring of the providers' management commands (`batchup batches …`, `batchup runs …`),
 * from the CommandGroups the provider modules declare. Only option definitions live here; the
 * actions load ./provider-command.js lazily. A group several providers declare is one command;
 * `--provider` picks which one it talks to.
 */
import type { Command } from 'commander';
import { Option } from 'commander';
import type { AnyProvider, CommandGroup } from '../../core/provider.js';
import type { CliContext } from '../context.js';
import { examples, optionOf } from '../flags.js';

export interface ProviderCommandHooks {
  setExit: (code: number) => void;
  installSignals: () => void;
}

/** The connection and output flags every management command takes. */
function common(cmd: Command, owners: readonly AnyProvider[]): Command {
  const names = owners.map((p) => p.name).join(', ');
  return cmd
    .option('--provider <name>', `provider (${names}; default: the configured one when it has this command)`)
    .option('--endpoint <url>', `API root (env BATCHUP_ENDPOINT when the configured provider is ${names}; default its public API)`)
    .option('--token-file <file>', 'read the API token from this file (mode 0600)')
    .option('--max-retries <n>', 'retries per request (default 6)')
    .option('--timeout <duration>', 'per-request timeout without progress (e.g. 90s, 2m; default 120s)')
    .option('--json', 'JSON on stdout (one object per line)')
    .addOption(new Option('-q, --quiet', 'no progress lines or spinner').conflicts('verbose'))
    .option('-v, --verbose', 'also retries');
}

export function addProviderCommands(program: Command, providers: readonly AnyProvider[], ctx: CliContext, hooks: ProviderCommandHooks): void {
  const groups = new Map<string, { group: CommandGroup; owners: AnyProvider[] }>();
  for (const p of providers) {
    for (const g of p.commands ?? []) {
      const known = groups.get(g.name);
      if (known) known.owners.push(p);
      else groups.set(g.name, { group: g, owners: [p] });
    }
  }
  for (const { group, owners } of groups.values()) {
    const parent = program.command(group.name).description(group.description);
    if (group.examples?.length) parent.addHelpText('after', examples(group.examples));
    for (const spec of group.commands) {
      const cmd = common(parent.command(spec.name).description(spec.description), owners);
      for (const a of spec.args ?? []) cmd.argument(a.optional ? `[${a.name}]` : `<${a.name}>`, a.description);
      for (const f of [...(group.options ?? []), ...(spec.options ?? [])]) cmd.addOption(optionOf(f));
      if (spec.examples?.length) cmd.addHelpText('after', examples(spec.examples));
      cmd.action(async (...argv: unknown[]) => {
        const c = argv[argv.length - 1] as Command;
        const opts = c.opts() as Record<string, unknown>;
        ctx.json = Boolean(opts.json);
        ctx.verbose = Boolean(opts.verbose);
        if (spec.waits) hooks.installSignals();
        const { runProviderCommand } = await import('./provider-command.js');
        hooks.setExit(await runProviderCommand(owners, spec, group.options ?? [], argv.slice(0, -2) as string[], opts, ctx));
      });
    }
  }
}
