import { importLackey, LACKEY_WORKLOAD } from '../import/lackey-importer.js';
import { importRtdirty, RTDIRTY_WORKLOAD } from '../import/rtdirty-importer.js';
import type { ImportOptions } from '../import/import-options.js';
import { TraceReader } from '../trace/trace-reader.js';
import { stepProgress } from '../util/progress-step.js';
import { createScratchFile, removeTemporary } from '../util/temporary-files.js';
import { PAGE_BYTES } from '../model/guest-config.js';
import type { ReplayResult } from './replay.js';
import { headerOrigin } from './header-workload.js';

export class ReplaySourceError extends Error {
  override readonly name = 'ReplaySourceError';
}

/**
 * The share of the work that reading the trace is when the capture is
 * imported again too: on the sample captures, the import took four to six
 * times as long as reading the trace it writes.
 */
const READ_SHARE_BEFORE_REIMPORT = 1 / 6;

/**
 * Verifies an imported trace. Its events come from a capture, not from a
 * seed, so the trace is read in full (checksums and digest), and, given the
 * capture, imported again with the header's seed, guest and parameters and
 * compared digest for digest: the importers are deterministic.
 * `onProgress` is told the share of the work done: of the trace read, once
 * per chunk, then of the capture imported, once per block of its lines.
 */
export async function replayImportVerify(file: string, capture?: string, onProgress?: (fraction: number) => void): Promise<ReplayResult & { reimported: boolean }> {
  const reader = TraceReader.open(file);
  const h = reader.header;
  try {
    headerOrigin(file, h);
  } catch (e) {
    reader.close();
    throw e;
  }
  const readShare = capture ? READ_SHARE_BEFORE_REIMPORT : 1;
  const onRead = stepProgress(onProgress, 0, readShare);
  let chunks = 0;
  let events = 0;
  const footer = reader.forEachChunk((c) => {
    chunks++;
    events += c.batch.count;
    onRead?.(reader.fractionRead);
  });
  if (!capture) return { identical: true, chunks, events, recordedDigest: footer.digest, regeneratedDigest: footer.digest, reimported: false };
  const p = h.workload.params;
  const sha = (h.source as { sha256?: string } | undefined)?.sha256;
  // A scratch file of this process's own: two replays of one trace at once
  // must not write, or remove, each other's re-import.
  const tmp = createScratchFile(file);
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
    onProgress: stepProgress(onProgress, readShare, 1 - readShare),
  };
  try {
    // The asynchronous importers: they read gzip captures as `import` does.
    const r = h.workload.name === RTDIRTY_WORKLOAD ? await importRtdirty(opts) : h.workload.name === LACKEY_WORKLOAD ? await importLackey(opts) : undefined;
    if (!r) throw new ReplaySourceError(`${file}: imported by an unknown importer '${h.workload.name}'`);
    const sourceSha = (r.header.source as { sha256?: string } | undefined)?.sha256;
    if (sha && sourceSha !== sha) throw new ReplaySourceError(`${capture}: not the capture ${file} was imported from (sha256 ${sourceSha?.slice(0, 16)}…, the trace names ${sha.slice(0, 16)}…)`);
    return { identical: r.footer.digest === footer.digest, chunks, events, recordedDigest: footer.digest, regeneratedDigest: r.footer.digest, reimported: true };
  } finally {
    removeTemporary(tmp);
  }
}
