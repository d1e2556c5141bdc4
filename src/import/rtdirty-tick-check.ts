import { RtdirtyRecordKind as K } from './rtdirty-parser.js';

/**
 * What rtdirty v1 promises about the records of one tick
 * (/work/shared/formats/rtdirty-v1.md: "all records of one tick come
 * before its S line", S giving the tick's dirty pages), checked as the
 * records are read so that a capture that breaks it is reported on its
 * line instead of being imported into something else:
 *
 * - time order: a tick's records come in time order, none before the S
 *   line that ended the tick before, and S lines in time order. An S line
 *   may carry an earlier time than its own tick's records: the samplers
 *   that wrote /work/shared/samples stamp it with the start of the scan
 *   (S 100.184 after D 100.431, with scan_ms 0.385).
 * - totals: S's `dirty` is the number of pages its tick's D lines list.
 *   Both samples leave out the last scan of a process that exits in the
 *   tick (its D line before Z: S 2100.165 counts 0 after D 2100.165 of 13
 *   pages and Z); either count is taken.
 *
 * Times are the parser's exact millionths of the capture's unit.
 */
export class RtdirtyTickCheck {
  /** The problem found was an S line's count alone (its time is sound). */
  countOnly = false;
  private lastTickMicro = -1;
  private lastRecordMicro = -1;
  /** D pages listed in the tick under way. */
  private dirtyPages = 0;
  /** The same, by process, until the process exits (its pages move to exitingPages). */
  private readonly dirtyByPid = new Map<number, number>();
  private exitingPages = 0;

  /** Why the record about to be taken breaks the tick's order or total (`dirty`: an S line's count), or undefined. */
  problem(kind: number, tMicro: number, dirty: number): string | undefined {
    this.countOnly = false;
    const name = String.fromCharCode(kind);
    if (kind === K.tick) {
      if (tMicro < this.lastTickMicro) return `S record (t ${units(tMicro)} is before the previous S line's ${units(this.lastTickMicro)}: ticks come in time order)`;
      if (dirty !== this.dirtyPages && dirty !== this.dirtyPages - this.exitingPages) {
        this.countOnly = true;
        const lastScans = this.exitingPages > 0 ? `, ${this.dirtyPages - this.exitingPages} without the last scans of processes that exited` : '';
        return `S record (it counts ${dirty} dirty pages, but the D lines of its tick list ${this.dirtyPages}${lastScans})`;
      }
      return undefined;
    }
    if (tMicro < this.lastRecordMicro) return `${name} record (t ${units(tMicro)} is before ${units(this.lastRecordMicro)}, the record before it in its tick: a tick's records come in time order)`;
    if (tMicro < this.lastTickMicro) return `${name} record (t ${units(tMicro)} is before ${units(this.lastTickMicro)}, the S line that ended the tick before)`;
    return undefined;
  }

  /** A record (not S) was taken: `dirtyPages` is a D line's page count. */
  recordRead(tMicro: number, kind: number, pid: number, dirtyPages: number): void {
    this.lastRecordMicro = tMicro;
    if (kind === K.dirty) {
      this.dirtyPages += dirtyPages;
      this.dirtyByPid.set(pid, (this.dirtyByPid.get(pid) ?? 0) + dirtyPages);
    } else if (kind === K.exiting || kind === K.gone) {
      this.exitingPages += this.dirtyByPid.get(pid) ?? 0;
      this.dirtyByPid.delete(pid);
    }
  }

  /** An S line ended the tick at `tMicro`. */
  tickEnded(tMicro: number): void {
    this.lastTickMicro = tMicro;
    this.lastRecordMicro = -1;
    this.dirtyPages = 0;
    this.dirtyByPid.clear();
    this.exitingPages = 0;
  }
}

/** A time in millionths of the capture's unit, as the capture writes it. */
function units(tMicro: number): string {
  return String(tMicro / 1e6);
}
