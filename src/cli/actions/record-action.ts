import { record, workloadHeader } from '../../api/record.js';
import { COLUMN_ENCODINGS, type ColumnEncoding } from '../../trace/column-codec.js';
import { formatBytes, formatCount, formatDurationNs } from '../../model/units.js';
import type { CliContext } from '../cli-io.js';
import { UsageError } from '../usage-error.js';
import { fmtFixed, fmtRate } from '../format-number.js';
import { createProgress, withProgress } from '../progress.js';
import { chooseSeed } from '../choose-seed.js';
import { memoryGuardOf } from '../memory-guard.js';
import type { GuestCliOptions } from '../commands/record-command.js';

/** `migsim record WORKLOAD -o FILE`: loaded when the command runs. */
export function recordAction(ctx: CliContext, workload: string, opts: GuestCliOptions & { out: string; encoding: string; json?: boolean }): void {
  const { io } = ctx;
  if (!(COLUMN_ENCODINGS as readonly string[]).includes(opts.encoding)) {
    throw new UsageError(`--encoding must be one of ${COLUMN_ENCODINGS.join(', ')}`);
  }
  const seed = chooseSeed(opts.seed);
  const request = {
    workload,
    seed,
    out: opts.out,
    durationNs: opts.duration,
    memBytes: opts.mem,
    vcpus: opts.vcpus,
    guest: opts.guest,
    paging: opts.paging,
    settings: opts.set ?? {},
    encoding: opts.encoding as ColumnEncoding,
  };
  workloadHeader(request); // checks the workload and parameters before anything is printed
  if (!opts.json) io.err(`seed ${seed}\n`);
  const started = process.hrtime.bigint();
  const progress = createProgress(ctx, `record ${workload}`, opts.duration, { json: opts.json, unit: formatDurationNs });
  const guard = memoryGuardOf(ctx);
  const result = withProgress(progress, () =>
    record(request, (_events, tNs) => {
      progress.update(tNs);
      guard.check(tNs, opts.duration);
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const events = result.footer.guestEvents;
  if (opts.json) {
    io.out(JSON.stringify({ file: opts.out, seed, events, fileBytes: result.fileBytes, bytesPerEvent: result.fileBytes / Math.max(events, 1), digest: result.footer.digest, workloadStats: result.footer.workloadStats }, null, 2) + '\n');
  } else {
    io.out(
      `recorded ${workload} (seed ${seed}): ${formatCount(events)} events over ${formatDurationNs(result.footer.lastNs)} of guest time\n` +
        `  ${opts.out}: ${formatBytes(result.fileBytes)}, ${fmtFixed(result.fileBytes / Math.max(events, 1), 2)} bytes/event, ${fmtRate(events / seconds)} events/s\n`,
    );
  }
}
