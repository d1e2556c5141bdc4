import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { Packr, Unpackr } from 'msgpackr';
import { BatchDigest, STREAM_TAG } from '../../src/trace/batch-digest.js';
import { allocateColumn, type ColumnArray, ColumnEncoder, decodeColumn } from '../../src/trace/column-codec.js';
import { GUEST_COLUMN_SPECS, RUN_COLUMN_SPECS } from '../../src/trace/column-specs.js';
import { frameHead, frameTail, FRAME_HEAD_BYTES, FRAME_TAIL_BYTES, TRACE_MAGIC } from '../../src/trace/trace-frame.js';
import { fileDigestOf, traceCodecOptions } from '../../src/trace/trace-writer.js';

/** Byte offsets of a trace's records: where each frame starts, and the file's end. */
export function recordBoundaries(bytes: Uint8Array): number[] {
  const out: number[] = [];
  let at = TRACE_MAGIC.length;
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  while (at < bytes.length) {
    out.push(at);
    at += FRAME_HEAD_BYTES + view.readUInt32BE(at + 1) + FRAME_TAIL_BYTES;
  }
  out.push(bytes.length);
  return out;
}

/** Decodes every record of a trace file (for tests that tamper with one, checksums intact). */
export function readRecords(file: string): Record<string, unknown>[] {
  const bytes = readFileSync(file);
  const un = new Unpackr(traceCodecOptions());
  const b = recordBoundaries(bytes);
  return b.slice(0, -1).map((at) => un.unpack(bytes.subarray(at + FRAME_HEAD_BYTES, at + FRAME_HEAD_BYTES + bytes.readUInt32BE(at + 1))));
}

/**
 * Writes records back as a well-framed trace with valid checksums and, as a
 * writer would, the footer's fileDigest (when it has one) recomputed over
 * the bytes written; `keepFileDigest` leaves the footer's as it is.
 */
export function writeRecords(file: string, records: readonly object[], opts: { keepFileDigest?: boolean } = {}): void {
  const packr = new Packr(traceCodecOptions());
  const parts: Buffer[] = [TRACE_MAGIC];
  const hash = createHash('sha256').update(TRACE_MAGIC);
  for (const r of records) {
    const rec = r as Record<string, unknown>;
    const footer = rec['type'] === 'footer' && typeof rec['fileDigest'] === 'string' && !opts.keepFileDigest ? { ...rec, fileDigest: fileDigestOf(hash, String(rec['digest'])) } : rec;
    const payload = Buffer.from(packr.pack(footer));
    const frame = [frameHead(payload.length), payload, frameTail(payload)];
    parts.push(...frame);
    if (rec['type'] !== 'footer') for (const f of frame) hash.update(f);
  }
  writeFileSync(file, Buffer.concat(parts));
}

/** A chunk record's columns decoded (one typed array per column), or undefined if they do not decode. */
export function chunkColumns(chunk: Record<string, unknown>): ColumnArray[] | undefined {
  const specs = chunk['stream'] === 'run' ? RUN_COLUMN_SPECS : GUEST_COLUMN_SPECS;
  const count = chunk['count'] as number;
  const cols = chunk['cols'] as unknown[];
  try {
    const out: ColumnArray[] = [];
    for (const [c, spec] of specs.entries()) {
      out.push(allocateColumn(spec.type, count));
      decodeColumn(spec, cols[c], count, out[c]!, c === 0 ? undefined : (out[0] as Uint8Array));
    }
    return out;
  } catch {
    return undefined;
  }
}

/** The chunk with `columns` encoded in place of its own, its end time following them. */
export function withColumns(chunk: Record<string, unknown>, columns: readonly ColumnArray[]): Record<string, unknown> {
  const specs = chunk['stream'] === 'run' ? RUN_COLUMN_SPECS : GUEST_COLUMN_SPECS;
  const count = chunk['count'] as number;
  const enc = new ColumnEncoder('compact');
  let endNs = chunk['baseNs'] as number;
  for (let i = 0; i < count; i++) endNs += columns[1]![i]!;
  return { ...chunk, endNs, cols: specs.map((spec, c) => enc.encode(spec, columns[c]!, count, c === 0 ? undefined : (columns[0] as Uint8Array))) };
}

/**
 * The records with every chunk's baseNs following the one before it in its
 * stream, the footer's last time and digest recomputed over the chunks as
 * they now are (as a writer would have written them), so that only a
 * check of what the events mean can tell an edit. Chunks whose columns do
 * not decode are left as they are, and the digest with them.
 */
export function redigest(records: readonly Record<string, unknown>[]): Record<string, unknown>[] {
  const digest = new BatchDigest();
  const end = { guest: 0, run: 0 };
  let lastNs = 0;
  let decodable = true;
  const out = records.map((r) => {
    if (r['type'] !== 'chunk') return r;
    const stream = r['stream'] === 'run' ? 'run' : 'guest';
    const cols = chunkColumns(r);
    if (!cols) {
      decodable = false;
      return r;
    }
    const rebased = withColumns({ ...r, baseNs: end[stream] }, cols);
    end[stream] = rebased['endNs'] as number;
    lastNs = Math.max(lastNs, end[stream]);
    digest.add(STREAM_TAG[stream], r['count'] as number, cols);
    return rebased;
  });
  const footer = out[out.length - 1]!;
  if (footer['type'] === 'footer' && decodable) out[out.length - 1] = { ...footer, lastNs, digest: digest.hex() };
  return out;
}
