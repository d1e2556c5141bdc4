import type { Command } from 'commander';
import type { CliContext } from './cli-io.js';

/**
 * Commands whose option declarations load modules of their own at import
 * (the sweep's grid parser and result tables, the solver's runs, the
 * fleet's scenario types and tables): registered in full only when the
 * command line names one of them, and otherwise as a line of the command
 * list, so `migsim --help` and every other command start without them.
 */
interface LazyCommand {
  /** The command names it registers, as `migsim --help` lists them. */
  readonly names: readonly { readonly name: string; readonly description: string }[];
  readonly register: () => Promise<(program: Command, ctx: CliContext) => void>;
}

const LAZY: readonly LazyCommand[] = [
  {
    names: [
      { name: 'fleet', description: 'migrate many VMs at once over shared links, as a scenario file says, under an orchestrator (none, kubevirt, nova, ovirt)' },
      { name: 'evacuate', description: "drain a host: migrate every VM on it under the scenario's orchestrator (the scenario's plan is ignored)" },
    ],
    register: async () => (await import('./commands/fleet-command.js')).registerFleet,
  },
  {
    names: [{ name: 'sweep', description: 'run a grid of migrations (YAML: a base run and axes) in parallel into a results table; resumable and shardable' }],
    register: async () => (await import('./commands/sweep-command.js')).registerSweep,
  },
  {
    names: [{ name: 'solve', description: 'the smallest bandwidth, downtime limit or max-bandwidth at which a migration completes (and meets --target), by bisection over runs' }],
    register: async () => (await import('./commands/solve-command.js')).registerSolve,
  },
];

/** Registers each lazy command: in full when `argv` names it, else as a listed name whose help says how to see its options. */
export async function registerLazyCommands(program: Command, ctx: CliContext, argv: readonly string[]): Promise<void> {
  for (const c of LAZY) {
    if (c.names.some((n) => argv.includes(n.name))) (await c.register())(program, ctx);
    else for (const n of c.names) program.command(n.name).description(n.description).helpOption(false).allowUnknownOption().allowExcessArguments();
  }
}
