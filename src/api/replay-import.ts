import { rmSync } from 'node:fs';
import { importLackeySync, LACKEY_WORKLOAD } from '../import/lackey-importer.js';
import { importRtdirtySync, RTDIRTY_WORKLOAD } from '../import/rtdirty-importer.js';
import type { ImportOptions } from '../import/import-options.js';
import { TraceReader } from '../trace/trace-reader.js';
import { PAGE_BYTES } from './guest-config.js';
import type { ReplayResult } from './replay.js';

export class ReplaySourceError extends Error {
  override readonly name = 'ReplaySourceError';
}

/**
 * Verifies an imported trace. Its events come from a capture, not from a
 * seed, so the trace is read in full (checksums and digest), and, given the
 * capture, imported again with the header's seed, guest and parameters and
 * compared digest for digest: the importers are deterministic.
 */
export function replayImportVerify(file: string, capture?: string): ReplayResult & { reimported: boolean } {
  const reader = TraceReader.open(file);
  const h = reader.header;
  let chunks = 0;
  let events = 0;
  const footer = reader.forEachChunk((c) => {
    chunks++;
    events += c.batch.count;
  });
  if (!capture) return { identical: true, chunks, events, recordedDigest: footer.digest, regeneratedDigest: footer.digest, reimported: false };
  const p = h.workload.params;
  const sha = (h.source as { sha256?: string } | undefined)?.sha256;
  const tmp = `${file}.reimport`;
  const opts: ImportOptions = {
    file: capture,
    out: tmp,
    seed: h.workload.seed,
    guest: h.guest.type,
    paging: h.guest.paging,
    memBytes: h.guest.memPages * PAGE_BYTES,
    vcpus: h.guest.vcpus,
    ...(typeof p['hz'] === 'number' ? { hz: p['hz'] } : {}),
    ...(typeof p['ips'] === 'number' ? { ips: p['ips'] } : {}),
    digest: 'inline',
  };
  try {
    const r = h.workload.name === RTDIRTY_WORKLOAD ? importRtdirtySync(opts) : h.workload.name === LACKEY_WORKLOAD ? importLackeySync(opts) : undefined;
    if (!r) throw new ReplaySourceError(`${file}: imported by an unknown importer '${h.workload.name}'`);
    const sourceSha = (r.header.source as { sha256?: string } | undefined)?.sha256;
    if (sha && sourceSha !== sha) throw new ReplaySourceError(`${capture}: not the capture ${file} was imported from (sha256 ${sourceSha?.slice(0, 16)}…, the trace names ${sha.slice(0, 16)}…)`);
    return { identical: r.footer.digest === footer.digest, chunks, events, recordedDigest: footer.digest, regeneratedDigest: r.footer.digest, reimported: true };
  } finally {
    rmSync(tmp, { force: true });
  }
}
