import type { Command } from 'commander';
import { checkGolden, goldenCases, updateGolden } from '../../api/golden.js';
import { type CliContext, EXIT_MISMATCH } from '../cli-io.js';
import { UsageError } from '../cli-failure.js';
import { createItemsProgress } from '../progress.js';

const DEFAULT_GOLDEN_DIR = 'traces/golden';

export function registerGolden(program: Command, ctx: CliContext): void {
  const golden = program.command('golden').description('golden run traces: regression tests with readable expected summaries');
  golden
    .command('check')
    .description('replay every golden trace and fail on any difference, showing it')
    .argument('[dir]', 'directory of *.mst run traces and their *.summary.txt', DEFAULT_GOLDEN_DIR)
    .action((dir: string) => {
      const cases = goldenCases(dir);
      if (cases.length === 0) throw new UsageError(`no golden traces (*.mst) in ${dir}`);
      const progress = createItemsProgress(ctx, 'golden check', cases.length);
      try {
        for (const [i, c] of cases.entries()) {
          const r = checkGolden(c, (f) => progress.update(i, f));
          progress.hide();
          ctx.io.out(`${r.ok ? 'ok  ' : 'FAIL'} ${c.name}\n`);
          for (const d of r.differences) ctx.io.out(`     ${d}\n`);
          if (!r.ok) ctx.setExit(EXIT_MISMATCH);
        }
      } finally {
        progress.hide();
      }
    });
  golden
    .command('update')
    .description('re-derive every golden trace and its summary with this version, printing what changed')
    .argument('[dir]', 'directory of *.mst run traces', DEFAULT_GOLDEN_DIR)
    .action((dir: string) => {
      const cases = goldenCases(dir);
      if (cases.length === 0) throw new UsageError(`no golden traces (*.mst) in ${dir}`);
      const progress = createItemsProgress(ctx, 'golden update', cases.length);
      try {
        for (const [i, c] of cases.entries()) {
          const r = updateGolden(c, (f) => progress.update(i, f));
          progress.hide();
          ctx.io.out(`${r.differences.length ? 'changed  ' : 'unchanged'} ${c.name}\n`);
          for (const d of r.differences) ctx.io.out(`     ${d}\n`);
        }
      } finally {
        progress.hide();
      }
    });
  for (const c of golden.commands) c.exitOverride().configureOutput({ writeOut: ctx.io.out, writeErr: ctx.io.err });
}
