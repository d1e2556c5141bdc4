import type { Command } from 'commander';
import { checkGolden, type GoldenCase, type GoldenOutcome, goldenCases, updateGolden } from '../../verify/golden.js';
import { formatCount } from '../../model/units.js';
import { type CliContext, EXIT_MISMATCH } from '../cli-io.js';
import { UsageError } from '../cli-failure.js';
import { createProgress, withProgress } from '../progress.js';

const DEFAULT_GOLDEN_DIR = 'traces/golden';

export function registerGolden(program: Command, ctx: CliContext): void {
  const golden = program.command('golden').description('golden run traces: regression tests with readable expected summaries');
  golden
    .command('check')
    .description('replay every golden trace and fail on any difference, showing it')
    .argument('[dir]', 'directory of *.mst run traces and their *.summary.txt', DEFAULT_GOLDEN_DIR)
    .action((dir: string) =>
      forEachCase(ctx, dir, 'golden check', checkGolden, (c, r) => {
        ctx.io.out(`${r.ok ? 'ok  ' : 'FAIL'} ${c.name}\n`);
        for (const d of r.differences) ctx.io.out(`     ${d}\n`);
        if (!r.ok) ctx.setExit(EXIT_MISMATCH);
      }),
    );
  golden
    .command('update')
    .description('re-derive every golden trace and its summary with this version, printing what changed')
    .argument('[dir]', 'directory of *.mst run traces', DEFAULT_GOLDEN_DIR)
    .action((dir: string) =>
      forEachCase(ctx, dir, 'golden update', updateGolden, (c, r) => {
        ctx.io.out(`${r.differences.length ? 'changed  ' : 'unchanged'} ${c.name}\n`);
        for (const d of r.differences) ctx.io.out(`     ${d}\n`);
      }),
    );
  for (const c of golden.commands) c.exitOverride().configureOutput({ writeOut: ctx.io.out, writeErr: ctx.io.err });
}

/**
 * Runs every golden case of `dir` under one bar over the cases, clearing
 * the bar before each case's result is printed.
 */
function forEachCase(
  ctx: CliContext,
  dir: string,
  label: string,
  run: (c: GoldenCase, onProgress: (fraction: number) => void) => GoldenOutcome,
  print: (c: GoldenCase, r: GoldenOutcome) => void,
): void {
  const cases = goldenCases(dir);
  if (cases.length === 0) throw new UsageError(`no golden traces (*.mst) in ${dir}`);
  const progress = createProgress(ctx, label, cases.length, { unit: (n) => formatCount(Math.floor(n)) });
  withProgress(progress, () => {
    for (const [i, c] of cases.entries()) {
      const r = run(c, (f) => progress.update(i + f));
      progress.hide();
      print(c, r);
    }
  });
}
