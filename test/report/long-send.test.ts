// A run event's cost may pass what its 32-bit column holds (4.29 s): a
// checkpoint of a 2 GiB guest on a 1 Gbit/s link sends for 17.2 s. The
// trace keeps the full cost (a cost_high event carries its high word), and
// every reader folds it back: the summary, the report's timeline and the
// Perfetto export (issue "Results a user can trust", item 3).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { MigrationSummary } from '../../src/api/run-migration.js';
import { runEventCostNs } from '../../src/events/run-cost.js';
import { RunEventKind } from '../../src/events/run-event-kind.js';
import { runReportFromTrace } from '../../src/report/report-data.js';
import { TraceReader } from '../../src/trace/trace-reader.js';
import { runCli } from '../cli/cli-run.js';
import { tempDir } from '../helpers/temp-dir.js';

const dir = tempDir();
const trace = join(dir, 'ck.mst');
let summary: MigrationSummary;
/** The wire time of the checkpoint's page send, as the migration computed it. */
let sendNs = 0;

beforeAll(async () => {
  // The issue's own command: 524,288 pages of 4,104 bytes at 125 MB/s.
  const r = await runCli('run', 'muncher', '--guest', 'hvm', '--mem', '2GiB', '--duration', '4s', '--tracker', 'hap', '--policy', 'checkpoint', '--start', '1ms', '--seed', '1', '--record', trace, '--json');
  expect(r.code).toBe(0);
  summary = JSON.parse(r.out);
  sendNs = summary.downtime.finalPagesNs;
}, 120_000);

describe('a cost longer than 4.29 s', () => {
  it('A 17 s checkpoint\'s send event round-trips through trace, report and Perfetto export with its full duration', async () => {
    expect(sendNs).toBeGreaterThan(17e9);
    expect(sendNs).toBeLessThan(17.3e9);

    // The trace: the pages_sent event's cost, low word and cost_high folded.
    const sends: number[] = [];
    let costHighs = 0;
    TraceReader.open(trace).forEachChunk((c) => {
      if (c.stream !== 'run') return;
      for (let i = 0; i < c.batch.count; i++) {
        if (c.batch.kind[i] === RunEventKind.pagesSent) sends.push(runEventCostNs(c.batch, i));
        if (c.batch.kind[i] === RunEventKind.costHigh) costHighs++;
      }
    });
    expect(sends).toEqual([sendNs]);
    expect(costHighs).toBe(1);

    // The report: bytes are spread over the send as it happened, so the
    // bucket at 15 s (past the 4.29 s the column alone would give) is busy
    // at link speed.
    const report = runReportFromTrace(trace);
    const at15s = report.timeline.buckets.find((b) => b.startNs <= 15e9 && 15e9 < b.endNs)!;
    const linkBytes = (report.spec.migration.bandwidthBytesPerSec * (at15s.endNs - at15s.startNs)) / 1e9;
    expect(at15s.bytesSent).toBeGreaterThan(0.99 * linkBytes);
    expect(at15s.bytesSent).toBeLessThan(1.01 * linkBytes);

    // The Perfetto export: the send slice is as long as the send.
    const out = join(dir, 'ck.json');
    expect((await runCli('export', trace, '--perfetto', '-o', out)).code).toBe(0);
    const events = JSON.parse(readFileSync(out, 'utf8')).traceEvents as { name: string; ph: string; dur?: number; args?: { bytes?: number } }[];
    const send = events.filter((e) => e.ph === 'X' && e.name.startsWith('send '));
    expect(send.length).toBe(1);
    expect(send[0]!.dur).toBeCloseTo(sendNs / 1000, 3);
    expect(send[0]!.args!.bytes).toBe(Math.floor((sendNs * report.spec.migration.bandwidthBytesPerSec) / 1e9));
  });
});
