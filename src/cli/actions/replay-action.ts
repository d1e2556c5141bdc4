import { readdirSync } from 'node:fs';
import { formatCount } from '../../model/units.js';
import { isFleetRecord } from '../../fleet/fleet-record-dir.js';
import { replayVerify } from '../../verify/replay.js';
import { replayRunTraceVerify } from '../../verify/replay-run-trace.js';
import { TraceReader } from '../../trace/trace-reader.js';
import type { TraceHeader } from '../../trace/trace-records.js';
import { replayImportVerify } from '../../verify/replay-import.js';
import { type CliContext, EXIT_MISMATCH } from '../cli-io.js';
import { inputFile } from '../input-file.js';
import { createProgress, createShareProgress, withProgress, withProgressAsync } from '../progress.js';

/** `migsim replay FILE --verify`: loaded when the command runs. */
export async function replayAction(ctx: CliContext, file: string, opts: { json?: boolean; source?: string }): Promise<void> {
  if (isFleetRecord(file)) {
    // A directory written by `migsim fleet --record`: each VM's trace alone, then the scenario's stream.
    const { replayFleetVerify } = await import('../../verify/replay-fleet.js');
    const traces = readdirSync(file).filter((f) => /^vm-.*\.mst$/.test(f)).length;
    const progress = createProgress(ctx, 'replay', traces, { json: opts.json });
    const r = withProgress(progress, () => replayFleetVerify(file, (done) => progress.update(done)));
    if (opts.json) ctx.io.out(JSON.stringify(r, null, 2) + '\n');
    else {
      for (const v of r.vms) {
        const d = v.firstDifference;
        ctx.io.out(v.identical ? `${v.file}: identical alone (${formatCount(v.events)} run events, state digest ${v.regeneratedDigest.slice(0, 16)})\n` : `${v.file}: differs${d ? ` at chunk ${d.chunk}, event ${d.event}: ${d.column} recorded ${d.recorded}, regenerated ${d.regenerated}` : ''}\n`);
      }
      if (r.scenarioProblem !== undefined) ctx.io.out(`${file}: the scenario's stream disagrees with the VM traces: ${r.scenarioProblem}\n`);
      else if (r.firstDifferentLine > 0) ctx.io.out(`${file}: differs at line ${r.firstDifferentLine} of fleet.json: recorded ${r.recorded?.trim()}, from the traces and events ${r.regenerated?.trim()}\n`);
      else if (r.identical) ctx.io.out(`${file}: identical (${r.vms.length} VM trace(s) alone; their shares solved again, events.jsonl and fleet.json follow from them)\n`);
    }
    if (!r.identical) ctx.setExit(EXIT_MISMATCH);
    return;
  }
  const header = traceHeader(inputFile(file));
  if (opts.source !== undefined) inputFile(opts.source, 'a capture');
  const progress = createShareProgress(ctx, 'replay', opts.json);
  if (header.source && header.traceKind === 'workload') {
    const r = await withProgressAsync(progress, () => replayImportVerify(file, opts.source, progress.update));
    if (opts.json) ctx.io.out(JSON.stringify(r, null, 2) + '\n');
    else if (!r.reimported) ctx.io.out(`${file}: intact (${formatCount(r.events)} events, digest ${r.recordedDigest}); imported from ${String(header.source['file'])}: pass --source CAPTURE to import it again and compare\n`);
    else ctx.io.out(`${file}: ${r.identical ? 'identical' : 'differs'}: re-imported ${opts.source} with seed ${header.workload.seed}, digest ${r.regeneratedDigest}${r.identical ? '' : ` (recorded ${r.recordedDigest})`}\n`);
    if (!r.identical) ctx.setExit(EXIT_MISMATCH);
    return;
  }
  const r = withProgress(progress, () => (header.traceKind === 'run' ? replayRunTraceVerify(file, progress.update) : replayVerify(file, progress.update)));
  if (opts.json) ctx.io.out(JSON.stringify(r, null, 2) + '\n');
  else if (r.identical) ctx.io.out(`${file}: identical (${formatCount(r.events)} events in ${formatCount(r.chunks)} chunks, digest ${r.regeneratedDigest})\n`);
  else {
    const d = r.firstDifference;
    ctx.io.out(
      d
        ? `${file}: differs at chunk ${d.chunk}, event ${d.event} (event ${formatCount(d.eventOverall)} overall): ${d.column} recorded ${d.recorded}, regenerated ${d.regenerated}\n`
        : `${file}: differs: digest recorded ${r.recordedDigest}, regenerated ${r.regeneratedDigest}\n`,
    );
  }
  if (!r.identical) ctx.setExit(EXIT_MISMATCH);
}

function traceHeader(file: string): TraceHeader {
  const r = TraceReader.open(file);
  r.close();
  return r.header;
}
