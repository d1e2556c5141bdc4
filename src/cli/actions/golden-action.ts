import { statSync } from 'node:fs';
import { checkGolden, type GoldenCase, type GoldenOutcome, goldenCases, updateGolden } from '../../verify/golden.js';
import { formatCount } from '../../model/units.js';
import { type CliContext, EXIT_MISMATCH } from '../cli-io.js';
import { UsageError } from '../usage-error.js';
import { createProgress, withProgress } from '../progress.js';

/** How to make a golden trace where there is none. */
const HOW_TO_ADD = (dir: string) => `record a run with migsim run <workload> --tracker <tracker> --seed <n> --record ${dir}/NAME.mst, then write its summary with migsim golden update ${dir}`;

/** `migsim golden check [DIR]`: loaded when the command runs. */
export function goldenCheckAction(ctx: CliContext, dir: string, opts: { json?: boolean }): void {
  const outcomes = forEachCase(ctx, dir, 'golden check', checkGolden, opts.json, (c, r) => {
    ctx.io.out(`${r.ok ? 'ok  ' : 'FAIL'} ${c.name}\n`);
    for (const d of r.differences) ctx.io.out(`     ${d}\n`);
  });
  const failed = outcomes.filter(({ r }) => !r.ok);
  if (opts.json) ctx.io.out(JSON.stringify({ dir, ok: failed.length === 0, cases: outcomes.map(({ c, r }) => ({ name: c.name, trace: c.trace, summary: c.summaryFile, ok: r.ok, differences: r.differences })) }, null, 2) + '\n');
  else if (failed.length > 0) {
    ctx.io.out(
      `${failed.length} of ${outcomes.length} golden traces differ. If the change is intended, re-derive them with migsim golden update ${dir} and review the summaries' diff before committing; if not, the lines above show the first difference of each.\n`,
    );
  }
  if (failed.length > 0) ctx.setExit(EXIT_MISMATCH);
}

/** `migsim golden update [DIR]`: loaded when the command runs. */
export function goldenUpdateAction(ctx: CliContext, dir: string, opts: { json?: boolean }): void {
  const outcomes = forEachCase(ctx, dir, 'golden update', updateGolden, opts.json, (c, r) => {
    ctx.io.out(`${r.differences.length ? 'changed  ' : 'unchanged'} ${c.name}\n`);
    for (const d of r.differences) ctx.io.out(`     ${d}\n`);
  });
  if (opts.json) ctx.io.out(JSON.stringify({ dir, cases: outcomes.map(({ c, r }) => ({ name: c.name, trace: c.trace, summary: c.summaryFile, changed: r.differences.length > 0, differences: r.differences })) }, null, 2) + '\n');
}

/**
 * Runs every golden case of `dir` under one bar over the cases, clearing
 * the bar before each case's result is printed (as text; with `json` the
 * caller prints them all at the end). Returns every case's outcome.
 */
function forEachCase(
  ctx: CliContext,
  dir: string,
  label: string,
  run: (c: GoldenCase, onProgress: (fraction: number) => void) => GoldenOutcome,
  json: boolean | undefined,
  print: (c: GoldenCase, r: GoldenOutcome) => void,
): { c: GoldenCase; r: GoldenOutcome }[] {
  const stat = statSync(dir, { throwIfNoEntry: false });
  if (!stat) throw new UsageError(`${dir}: no such directory; to start a set of golden traces there, create it, then ${HOW_TO_ADD(dir)}`);
  if (!stat.isDirectory()) throw new UsageError(`${dir}: not a directory: give the directory that holds the golden *.mst traces and their *.summary.txt`);
  const cases = goldenCases(dir);
  if (cases.length === 0) throw new UsageError(`no golden traces (*.mst) in ${dir}: ${HOW_TO_ADD(dir)}`);
  const progress = createProgress(ctx, label, cases.length, { json, unit: (n) => formatCount(Math.floor(n)) });
  const outcomes: { c: GoldenCase; r: GoldenOutcome }[] = [];
  withProgress(progress, () => {
    for (const [i, c] of cases.entries()) {
      const r = run(c, (f) => progress.update(i + f));
      progress.hide();
      outcomes.push({ c, r });
      if (!json) print(c, r);
    }
  });
  return outcomes;
}
