/**
 * How many of a chunk's columns the read-ahead thread decodes before it
 * leaves the rest to the reader, when no test pins it: moved towards
 * whichever of the two threads waited less. The thread that
 * reads the file has work of its own (reading, CRCs, the file's sha256,
 * msgpack) and the reader its own (each chunk's checks), so the decoding
 * is best shared unevenly, by an amount that depends on the trace's
 * columns and on what the reader does with the chunks:
 *
 *   - the reader waited for the chunk (it was idle): it takes a quarter
 *     column more of the next chunks;
 *   - the thread waited for room to post (the reader is the slower, busy
 *     with its own work, a simulation say): the thread keeps a quarter more.
 *
 * A quarter at a time, rounded to whole columns: the queue between the
 * threads (ReadAhead.AHEAD chunks) delays the effect of a move by a few
 * chunks, and whole steps swung between three columns and six, the waits
 * coming in runs. A reader that waits is also handed the columns left of
 * the chunk it waits for (read-ahead-worker.ts decodeChunk), as before.
 *
 * Measured on 60 s of apache (a reader doing nothing but the read; best of
 * 10 reads, each split pinned in turn): the thread decoding all six
 * columns 0.096-0.105 s, five 0.095, four 0.088-0.089, three 0.129; this
 * settles at four within a dozen chunks, 0.093-0.098 s against 0.098-0.101
 * for all six (three reads of ten each way). A run from a trace, whose
 * reader simulates, leaves the thread every column.
 */
export class ColumnSplit {
  private ahead: number;

  constructor(private readonly columns: number) {
    this.ahead = columns;
  }

  /** Columns the thread decodes of the next chunk. */
  get decodeAhead(): number {
    return Math.round(this.ahead);
  }

  /** After a chunk is posted: whether the reader had waited for it, and whether the thread had waited for room to post it. */
  posted(readerWaited: boolean, threadWaited: boolean): void {
    if (threadWaited) this.ahead = Math.min(this.columns, this.ahead + STEP);
    else if (readerWaited) this.ahead = Math.max(1, this.ahead - STEP);
  }
}

/** Columns moved per chunk one thread waited for the other. */
const STEP = 0.25;
