import { RecordFile, RecordProblem } from './record-file.js';
import { TRACE_MAGIC } from './trace-frame.js';

/** Small blocks: a hop reads one frame head, then jumps a chunk's length. */
const HOP_BLOCK_BYTES = 64 * 1024;

/**
 * A trace's footer record, reached by hopping from frame head to frame head
 * without decoding a chunk: a reader that needs the footer before the
 * events (a fleet VM's replay needs its input log first) need not read the
 * file twice. Only the footer's own frame is checked (CRC, msgpack); its
 * fields, the chunks and the digests are not, so the caller still reads
 * the file through TraceReader, which checks everything. Undefined where
 * the hops do not end on a footer: the full read then says what is wrong,
 * in the words every other read uses.
 */
export function peekFooter(path: string): Record<string, unknown> | undefined {
  const file = new RecordFile(path, HOP_BLOCK_BYTES, undefined);
  try {
    let at = TRACE_MAGIC.length;
    let last = -1;
    for (let next = file.nextRecordAt(at); next !== undefined; next = file.nextRecordAt(at)) {
      last = at;
      at = next;
    }
    if (last < 0 || at !== file.fileBytes) return undefined;
    const { rec } = file.read(last, 'footer', 1, 1);
    return rec['type'] === 'footer' ? rec : undefined;
  } catch (e) {
    if (e instanceof RecordProblem) return undefined;
    throw e;
  } finally {
    file.close();
  }
}
