import { HEX_DIGIT_VALUES } from './hex-digits.js';

/**
 * The parser of `valgrind --tool=lackey --trace-mem=yes` output: one block
 * of whole lines in, typed-array columns of memory accesses out. Lackey
 * prints one line per event (lackey/lk_main.c, its trace_* helpers):
 *
 *     I  0401ab70,3      an instruction (address, size)
 *      L 1fff000738,8    a load
 *      S 1fff000738,8    a store
 *      M 1fff000738,8    a modify (load and store of the same bytes)
 *     ==15762== ...      valgrind's own messages
 *
 * The log of a short program is gigabytes, so the parser is one loop over
 * the bytes with a table for hex digits: no strings, no regex, no per-line
 * allocation. Each access carries the number of instructions seen before
 * it (guest time, once divided by the instruction rate) and its first and
 * last page (a store across a page boundary touches both).
 */
export const LackeyAccessKind = {
  load: 0,
  store: 1,
  modify: 2,
} as const;

/** One block's accesses, as columns; `count` rows are valid. */
export class LackeyAccesses {
  count = 0;
  kind: Uint8Array;
  /** First page (address >> 12) and offset of the first byte within it. */
  page: Float64Array;
  offset: Uint16Array;
  size: Uint32Array;
  /** Instructions seen before this access, since the start of the log. */
  instr: Float64Array;

  constructor(capacity = 1 << 16) {
    this.kind = new Uint8Array(capacity);
    this.page = new Float64Array(capacity);
    this.offset = new Uint16Array(capacity);
    this.size = new Uint32Array(capacity);
    this.instr = new Float64Array(capacity);
  }

  get capacity(): number {
    return this.kind.length;
  }

  ensure(capacity: number): void {
    if (capacity <= this.kind.length) return;
    let n = this.kind.length;
    while (n < capacity) n *= 2;
    this.kind = new Uint8Array(n);
    this.page = new Float64Array(n);
    this.offset = new Uint16Array(n);
    this.size = new Uint32Array(n);
    this.instr = new Float64Array(n);
  }
}

/** Called for a malformed line: throw to stop, or return to skip the line. */
export type MalformedLine = (lineNo: number, what: string, content: string) => void;

const NL = 10;
const CR = 13;
const SP = 0x20;
const COMMA = 0x2c;
const EQ = 0x3d;
const CH_I = 0x49;
const CH_L = 0x4c;
const CH_S = 0x53;
const CH_M = 0x4d;

// A module-local name for the table its hot loops read (an imported
// binding read there is slower in Node 20; see src/reducers/walk-x86-64.ts).
const HEX = HEX_DIGIT_VALUES;

/** Addresses are below 2^52 (user space is 47 bits). */
const MAX_ADDRESS = 2 ** 52;
/**
 * Sizes lackey can print, as valgrind's lackey/lk_main.c asserts them when
 * it instruments: a memory access is 1 to MAX_DSIZE (512) bytes, the most
 * one x86 instruction stores (FXSAVE's area); an instruction is 1 to
 * VG_MAX_INSTR_SZB (16) bytes, or VG_CLREQ_SZB (19 on amd64; 14 on x86)
 * for the client-request sequence valgrind treats as one instruction
 * (include/pub_tool_machine.h). Anything else is not lackey's output.
 */
const MAX_ACCESS_BYTES = 512;
const MAX_INSTRUCTION_BYTES = 16;
const CLIENT_REQUEST_BYTES = 19;

export class LackeyParser {
  /** Instructions seen so far. */
  instructions = 0;
  /** Lines read so far (the number of the last line parsed). */
  lines = 0;
  /** Valgrind's own (`==`) lines and blank lines skipped. */
  messageLines = 0;

  constructor(private readonly onMalformed: MalformedLine) {}

  /**
   * Parses every line of `buf` into `out`, replacing what it held. `buf`
   * holds whole lines and ends with a newline (as line-reader's blocks
   * do): the newline is the sentinel that ends every scan, so the inner
   * loops test no bounds.
   */
  parse(buf: Uint8Array, out: LackeyAccesses): void {
    const len = buf.length;
    if (len > 0 && buf[len - 1] !== NL) throw new RangeError('lackey parser: a block must end with a newline');
    // A line holds at most one access, and an access line is at least 7
    // bytes long (" S 0,1\n").
    out.ensure(Math.floor(len / 7) + 1);
    const kindCol = out.kind;
    const pageCol = out.page;
    const offsetCol = out.offset;
    const sizeCol = out.size;
    const instrCol = out.instr;
    let n = 0;
    let instr = this.instructions;
    let line = this.lines;
    let p = 0;
    while (p < len) {
      line++;
      const c = buf[p]!;
      if (c === CH_I) {
        // "I  addr,size": validated, not decoded (only the count matters).
        // Fast path for lackey's own layout, "I  %08lx,%lu" with a
        // one-digit size: fixed offsets, no loops.
        if (
          buf[p + 1] === SP &&
          buf[p + 2] === SP &&
          (HEX[buf[p + 3]!]! | HEX[buf[p + 4]!]! | HEX[buf[p + 5]!]! | HEX[buf[p + 6]!]! | HEX[buf[p + 7]!]! | HEX[buf[p + 8]!]! | HEX[buf[p + 9]!]! | HEX[buf[p + 10]!]!) >= 0 &&
          buf[p + 11] === COMMA
        ) {
          const d = buf[p + 12]!;
          if (d >= 0x31 && d <= 0x39 && buf[p + 13] === NL) {
            instr++;
            p += 14;
            continue;
          }
        }
        let q = p + 1;
        let b = buf[q]!;
        if (b === SP) {
          do b = buf[++q]!;
          while (b === SP);
          const hexStart = q;
          while (HEX[b]! >= 0) b = buf[++q]!;
          if (q > hexStart && b === COMMA) {
            const decStart = ++q;
            b = buf[q]!;
            let size = 0;
            while (b >= 0x30 && b <= 0x39) {
              size = size * 10 + (b - 0x30);
              b = buf[++q]!;
            }
            if (b === CR) b = buf[++q]!;
            if (q > decStart && b === NL) {
              if ((size >= 1 && size <= MAX_INSTRUCTION_BYTES) || size === CLIENT_REQUEST_BYTES) {
                instr++;
                p = q + 1;
                continue;
              }
              p = this.bad(buf, p, line, `instruction record (size ${size}: lackey reports instructions of 1 to ${MAX_INSTRUCTION_BYTES} bytes, or ${CLIENT_REQUEST_BYTES} for valgrind's client-request sequence)`);
              continue;
            }
          }
        }
        p = this.bad(buf, p, line, 'instruction record');
        continue;
      }
      if (c === SP) {
        const k = buf[p + 1]!;
        const kind = k === CH_S ? LackeyAccessKind.store : k === CH_L ? LackeyAccessKind.load : k === CH_M ? LackeyAccessKind.modify : -1;
        let q = p + 2;
        let b = buf[q]!;
        if (kind >= 0 && b === SP) {
          do b = buf[++q]!;
          while (b === SP);
          const hexStart = q;
          let addr = 0;
          let h = HEX[b]!;
          while (h >= 0) {
            addr = addr * 16 + h;
            b = buf[++q]!;
            h = HEX[b]!;
          }
          if (q > hexStart && q - hexStart <= 16 && addr < MAX_ADDRESS && b === COMMA) {
            const decStart = ++q;
            b = buf[q]!;
            let size = 0;
            while (b >= 0x30 && b <= 0x39) {
              size = size * 10 + (b - 0x30);
              b = buf[++q]!;
            }
            if (b === CR) b = buf[++q]!;
            if (q > decStart && b === NL && !(size > 0 && size <= MAX_ACCESS_BYTES)) {
              p = this.bad(buf, p, line, `memory access record (size ${size}: lackey reports accesses of 1 to ${MAX_ACCESS_BYTES} bytes, the most one x86 instruction stores)`);
              continue;
            }
            if (q > decStart && b === NL) {
              const page = Math.floor(addr / 4096);
              kindCol[n] = kind;
              pageCol[n] = page;
              offsetCol[n] = addr - page * 4096;
              sizeCol[n] = size;
              instrCol[n] = instr;
              n++;
              p = q + 1;
              continue;
            }
          }
        }
        p = this.bad(buf, p, line, kind < 0 ? 'record (not I, L, S, M or a == message)' : 'memory access record');
        continue;
      }
      if ((c === EQ && buf[p + 1] === EQ) || c === NL || (c === CR && buf[p + 1] === NL)) {
        // Valgrind's own message, or a blank line.
        this.messageLines++;
        p = buf.indexOf(NL, p) + 1;
        continue;
      }
      p = this.bad(buf, p, line, 'record (not I, L, S, M or a == message)');
    }
    this.instructions = instr;
    this.lines = line;
    out.count = n;
  }

  /** Reports the malformed line starting at `start`; returns where the next line starts. */
  private bad(buf: Uint8Array, start: number, lineNo: number, what: string): number {
    const end = buf.indexOf(NL, start);
    let textEnd = end;
    if (textEnd > start && buf[textEnd - 1] === CR) textEnd--;
    const content = Buffer.from(buf.buffer, buf.byteOffset + start, Math.min(textEnd - start, 400)).toString('utf8');
    this.onMalformed(lineNo, what, content);
    return end + 1;
  }
}
