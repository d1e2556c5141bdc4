import Table from 'cli-table3';
import type { Command } from 'commander';
import type { FleetResult } from '../../api/fleet.js';
import type { Scenario } from '../../fleet/scenario-file.js';
import { formatBytes, formatDurationNs } from '../../model/units.js';
import { type CliContext, EXIT_INCOMPLETE, EXIT_MISMATCH } from '../cli-io.js';
import { inputFile } from '../input-file.js';
import { createProgress, withProgress } from '../progress.js';

interface FleetOpts {
  json?: boolean;
  record?: string;
}

export function registerFleet(program: Command, ctx: CliContext): void {
  program
    .command('fleet')
    .description('migrate many VMs at once over shared links, as a scenario file says, under an orchestrator (none, kubevirt, nova, ovirt)')
    .argument('<scenario.yaml>', 'the scenario: hosts, links, VMs, plan, orchestrator (see scenarios/)')
    .option('--json', 'print the result as JSON')
    .option('--record <dir>', 'write the scenario, its result, its event stream and one run trace per VM (vm-NAME.mst, replayable alone) to DIR; migsim replay --verify DIR checks them')
    .addHelpText(
      'after',
      `
Each VM is its own simulation (guest, MMU, tracker, policy); one scheduler
runs them in wall time, ties in the file's order. Links are shared max-min
fairly between the migrations crossing them (SimGrid's model). Exit code:
0 every migration completed, 1 one lost pages, 3 one was aborted or did not
complete, 2 bad input (the message names the scenario's line).`,
    )
    .action(async (file: string, opts: FleetOpts) => {
      // The fleet code (YAML parser, controllers) loads only when a fleet command runs.
      const { loadScenario } = await import('../../api/fleet.js');
      await fleetCommand(ctx, loadScenario(inputFile(file, 'a scenario file')), opts);
    });
  program
    .command('evacuate')
    .description("drain a host: migrate every VM on it under the scenario's orchestrator (the scenario's plan is ignored)")
    .argument('<host>', 'the host to empty')
    .requiredOption('--scenario <file.yaml>', 'the scenario whose hosts, VMs and orchestrator to use')
    .option('--to <hosts>', 'only to these hosts (comma-separated; default: any host with room)')
    .option('--at <time>', 'when the evacuation is asked for (default: 0s)')
    .option('--json', 'print the result as JSON')
    .option('--record <dir>', 'write the scenario, its result, its event stream and one run trace per VM to DIR')
    .action(async (host: string, opts: FleetOpts & { scenario: string; to?: string; at?: string }) => {
      const { loadScenario } = await import('../../api/fleet.js');
      const line = `evacuate ${host}${opts.to ? ` to ${opts.to}` : ''}${opts.at ? ` at ${opts.at}` : ''}`;
      await fleetCommand(ctx, loadScenario(inputFile(opts.scenario, 'a scenario file'), { plan: [line] }), opts, [line]);
    });
}

async function fleetCommand(ctx: CliContext, scenario: Scenario, opts: FleetOpts, plan?: readonly string[]): Promise<void> {
  const { runScenario } = await import('../../api/fleet.js');
  const { recordFleet } = await import('../../api/record-fleet.js');
  const progress = createProgress(ctx, 'fleet', scenario.migrations.length, { json: opts.json });
  const result = withProgress(progress, () => (opts.record ? recordFleet(scenario, opts.record, { plan, onProgress: (_, ended) => progress.update(ended) }) : runScenario(scenario, { onProgress: (_, ended) => progress.update(ended) })));
  ctx.io.out(opts.json ? JSON.stringify(fleetJson(result), null, 2) + '\n' : fleetText(scenario, result));
  if (result.vms.some((v) => (v.summary?.lostPages ?? 0) > 0)) ctx.setExit(EXIT_MISMATCH);
  else if (result.vms.some((v) => v.outcome === 'aborted' || v.outcome === 'incomplete' || v.outcome === 'not-started')) ctx.setExit(EXIT_INCOMPLETE);
}

/** The stable JSON form: add fields, never rename. Each VM's full migration summary is under `summary`. */
export function fleetJson(r: FleetResult): Record<string, unknown> {
  return {
    orchestrator: r.orchestrator,
    seed: r.seed,
    makespanNs: r.makespanNs,
    vms: r.vms,
    links: r.peaks,
    events: r.events,
  };
}

function fleetText(s: Scenario, r: FleetResult): string {
  const table = new Table({ head: ['VM', 'from', 'to', 'outcome', 'queued', 'start', 'total', 'downtime', 'sent'], style: { head: [], border: [] } });
  for (const v of r.vms) {
    table.push([
      v.vm,
      v.from,
      v.to,
      v.outcome,
      formatDurationNs(v.queuedNs),
      v.startedAtNs >= 0 ? formatDurationNs(v.startedAtNs) : '-',
      v.startedAtNs >= 0 ? formatDurationNs(v.totalNs) : '-',
      formatDurationNs(v.downtimeNs),
      formatBytes(v.bytesSent),
    ]);
  }
  const lines = [`${s.file}: ${r.vms.length} migration(s) under ${r.orchestrator}, seed ${r.seed}`, table.toString(), `makespan (first request to last end): ${formatDurationNs(r.makespanNs)}`];
  const why = r.vms.filter((v) => v.outcome !== 'completed');
  if (why.length > 0) lines.push('', ...why.map((v) => `${v.vm}: ${v.outcome}: ${v.reason}`));
  const busy = r.peaks.filter((p) => p.peakBytesPerSec > 0);
  lines.push('', 'peak use (bytes/s allocated by max-min sharing):');
  for (const p of busy) lines.push(`  ${p.link}: ${formatBytes(p.peakBytesPerSec)}/s of ${formatBytes(p.capacityBytesPerSec)}/s (${Math.round((100 * p.peakBytesPerSec) / p.capacityBytesPerSec)}%) at ${formatDurationNs(p.atNs)}`);
  const decisions = r.events.filter((e) => e.kind !== 'requested');
  lines.push('', 'events:');
  for (const e of decisions) lines.push(`  ${formatDurationNs(e.atNs).padStart(9)}  ${e.vm.padEnd(8)} ${e.kind.padEnd(14)} ${e.detail}`);
  return lines.join('\n') + '\n';
}
