import { HEX_DIGIT_VALUES } from './hex-digits.js';

/**
 * The rtdirty v1 line parser (/work/shared/formats/rtdirty-v1.md): one line
 * of bytes in, one record out, into a reused record object so that a
 * capture of millions of lines allocates nothing per line. Page ranges are
 * expanded into the record's `pages` (source page numbers, up to 52 bits,
 * held exactly in doubles).
 *
 * Times are kept exact: `t` is parsed as a decimal into millionths of its
 * unit (ms, or instructions for an instruction-clock capture), an integer.
 */
export const RtdirtyRecordKind = {
  /** `P t pid ppid`: a process appeared. */
  attach: 0x50,
  /** `B t pid n ranges`: pages already written when it was attached. */
  baseline: 0x42,
  /** `D t pid n ranges`: pages written since its previous B or D line. */
  dirty: 0x44,
  /** `b`, `d`: the same as physical frame numbers. */
  physBaseline: 0x62,
  physDirty: 0x64,
  /** `E t pid`: exec, a new address space (a B line follows). */
  exec: 0x45,
  /** `Z t pid`: the process announced its exit. */
  exiting: 0x5a,
  /** `X t pid note...`: the process is gone. */
  gone: 0x58,
  /** `S t alive dirty scan_ms`: the end of one sampling tick. */
  tick: 0x53,
  /** A `#` line after the header. */
  comment: 0x23,
  /** A blank line. */
  blank: 0,
} as const;

/** What a malformed line is, for the `malformed <what>` message. */
export class RtdirtyParseError extends Error {
  override readonly name = 'RtdirtyParseError';
}

export interface RtdirtyHeader {
  /** The version token as written (`v1`). */
  readonly version: string;
  readonly major: number;
  /** Every key and value of the header line, as written, in order. */
  readonly keys: Readonly<Record<string, string>>;
}

export const RTDIRTY_MAJOR = 1;

/** Parses the first line: `# rtdirty v1 key value key value...`. */
export function parseRtdirtyHeader(line: string): RtdirtyHeader {
  const tokens = line.trim().split(/ +/);
  if (tokens[0] !== '#' || tokens[1] !== 'rtdirty' || tokens.length < 3) {
    throw new RtdirtyParseError("header (the first line must be '# rtdirty v1 key value...')");
  }
  const version = tokens[2]!;
  const m = /^v(\d+)(?:\.\d+)*$/.exec(version);
  if (!m) throw new RtdirtyParseError(`header (version '${version}' is not of the form v1)`);
  const rest = tokens.slice(3);
  if (rest.length % 2 !== 0) throw new RtdirtyParseError(`header (key '${rest[rest.length - 1]}' has no value)`);
  const keys: Record<string, string> = {};
  for (let i = 0; i < rest.length; i += 2) keys[rest[i]!] = rest[i + 1]!;
  return { version, major: Number(m[1]), keys };
}

const SPACE = 0x20;
const TAB = 0x09;
const DOT = 0x2e;
const PLUS = 0x2b;

// A module-local name for the table its hot loops read (an imported
// binding read there is slower in Node 20; see src/reducers/walk-x86-64.ts).
const HEX = HEX_DIGIT_VALUES;

/** Largest page number accepted: 52 bits (a 64-bit address >> 12). */
const MAX_PAGE = 2 ** 52;
/** Largest decimal integer accepted. */
const MAX_INT = Number.MAX_SAFE_INTEGER;
/** Largest whole part of a decimal accepted: its millionths stay exact, below 2^53. */
const MAX_DECIMAL_WHOLE = 9e9;

/** Where a scan stopped: set by parseDecimalMicro, reused so that a record's fields allocate nothing. */
export interface ScanEnd {
  at: number;
}

/**
 * The decimal at buf[start] (`50.170`, `12`; not `12.`, `.5` or signed),
 * ending at a space, a tab or `limit`, as an exact integer count of
 * millionths, digits past the sixth decimal rounding half up; -1 when it is
 * not one or its whole part is above MAX_DECIMAL_WHOLE. `end.at` is set to
 * where it stopped.
 */
export function parseDecimalMicro(buf: Uint8Array, start: number, limit: number, end: ScanEnd): number {
  let p = start;
  let whole = 0;
  for (; p < limit; p++) {
    const d = buf[p]! - 0x30;
    if (d < 0 || d > 9) break;
    whole = whole * 10 + d;
  }
  const wholeEnd = p;
  let frac = 0;
  let fracDigits = 0;
  let roundUp = false;
  if (p < limit && buf[p] === DOT) {
    p++;
    for (; p < limit; p++) {
      const d = buf[p]! - 0x30;
      if (d < 0 || d > 9) break;
      if (fracDigits < 6) frac = frac * 10 + d;
      else if (fracDigits === 6) roundUp = d >= 5;
      fracDigits++;
    }
  }
  end.at = p;
  // "12." is not a number here, nor is one followed by anything but a blank.
  if (wholeEnd === start || p === wholeEnd + 1 || (p < limit && buf[p] !== SPACE && buf[p] !== TAB) || whole > MAX_DECIMAL_WHOLE) return -1;
  for (let i = Math.min(fracDigits, 6); i < 6; i++) frac *= 10;
  return whole * 1e6 + frac + (roundUp ? 1 : 0);
}

/** The same for a header value, as text: the whole text must be the decimal. */
export function parseDecimalMicroText(text: string): number {
  const bytes = Buffer.from(text, 'utf8');
  const end = { at: 0 };
  const v = parseDecimalMicro(bytes, 0, bytes.length, end);
  return end.at === bytes.length ? v : -1;
}

export class RtdirtyRecord {
  kind = 0;
  /** `t` in millionths of the capture's time unit (an exact integer). */
  tMicro = 0;
  pid = 0;
  ppid = 0;
  /** The page count the line declares (B, D, b, d). */
  n = 0;
  /** The expanded page numbers, `n` of them, in the order listed. */
  pages = new Float64Array(1024);
  /** S: live processes, pages in the tick, sampler cost in millionths of a ms. */
  alive = 0;
  dirty = 0;
  scanMicro = 0;
  /** X: the note after the pid. */
  noteStart = 0;
  noteEnd = 0;

  private buf: Uint8Array = new Uint8Array(0);
  private pos = 0;
  private end = 0;
  private readonly scanEnd: ScanEnd = { at: 0 };

  /** Parses one line (without its newline); throws RtdirtyParseError naming what is malformed. */
  parse(buf: Uint8Array, start: number, end: number): number {
    this.buf = buf;
    this.pos = start;
    this.end = end;
    this.skipSpaces();
    if (this.pos === end) return (this.kind = RtdirtyRecordKind.blank);
    const k = buf[this.pos]!;
    this.kind = k;
    if (k === RtdirtyRecordKind.comment) return k;
    const next = this.pos + 1;
    if (next < end && buf[next] !== SPACE && buf[next] !== TAB) throw new RtdirtyParseError(`record (unknown record type '${this.text(this.pos, this.tokenEnd(this.pos))}')`);
    this.pos = next;
    const name = String.fromCharCode(k);
    switch (k) {
      case RtdirtyRecordKind.attach:
        this.tMicro = this.decimalMicro(name, 't');
        this.pid = this.int(name, 'pid');
        this.ppid = this.int(name, 'ppid');
        this.done(name);
        break;
      case RtdirtyRecordKind.baseline:
      case RtdirtyRecordKind.dirty:
      case RtdirtyRecordKind.physBaseline:
      case RtdirtyRecordKind.physDirty:
        this.tMicro = this.decimalMicro(name, 't');
        this.pid = this.int(name, 'pid');
        this.n = this.int(name, 'n');
        this.ranges(name);
        break;
      case RtdirtyRecordKind.exec:
      case RtdirtyRecordKind.exiting:
        this.tMicro = this.decimalMicro(name, 't');
        this.pid = this.int(name, 'pid');
        this.done(name);
        break;
      case RtdirtyRecordKind.gone:
        this.tMicro = this.decimalMicro(name, 't');
        this.pid = this.int(name, 'pid');
        this.skipSpaces();
        this.noteStart = this.pos;
        this.noteEnd = end;
        break;
      case RtdirtyRecordKind.tick:
        this.tMicro = this.decimalMicro(name, 't');
        this.alive = this.int(name, 'alive');
        this.dirty = this.int(name, 'dirty');
        this.scanMicro = this.decimalMicro(name, 'scan_ms');
        this.done(name);
        break;
      default:
        throw new RtdirtyParseError(`record (unknown record type '${name}')`);
    }
    return k;
  }

  /** The X record's note as text. */
  note(): string {
    return this.text(this.noteStart, this.noteEnd);
  }

  private ranges(name: string): void {
    const want = this.n;
    let have = 0;
    const buf = this.buf;
    for (;;) {
      this.skipSpaces();
      if (this.pos >= this.end) break;
      const tokenStart = this.pos;
      let page = 0;
      let digits = 0;
      let p = this.pos;
      const end = this.end;
      for (; p < end; p++) {
        const h = HEX[buf[p]!]!;
        if (h < 0) break;
        page = page * 16 + h;
        digits++;
      }
      if (digits === 0 || digits > 13 || page >= MAX_PAGE) throw this.bad(name, `page range '${this.text(tokenStart, this.tokenEnd(tokenStart))}'`);
      let count = 1;
      if (p < end && buf[p] === PLUS) {
        p++;
        let c = 0;
        let cd = 0;
        for (; p < end; p++) {
          const d = buf[p]! - 0x30;
          if (d < 0 || d > 9) break;
          c = c * 10 + d;
          cd++;
        }
        if (cd === 0 || c < 1 || c > MAX_INT) throw this.bad(name, `page range '${this.text(tokenStart, this.tokenEnd(tokenStart))}'`);
        count = c;
      }
      if (p < end && buf[p] !== SPACE && buf[p] !== TAB) throw this.bad(name, `page range '${this.text(tokenStart, this.tokenEnd(tokenStart))}'`);
      if (have + count > want) throw this.bad(name, `it lists more than the ${want} pages it declares`);
      if (page + count > MAX_PAGE) throw this.bad(name, `page range '${this.text(tokenStart, p)}' passes 2^52`);
      if (have + count > this.pages.length) this.grow(have + count);
      const pages = this.pages;
      for (let i = 0; i < count; i++) pages[have + i] = page + i;
      have += count;
      this.pos = p;
    }
    if (have !== want) throw this.bad(name, `it declares ${want} pages but lists ${have}`);
  }

  private grow(n: number): void {
    let len = this.pages.length;
    while (len < n) len *= 2;
    const next = new Float64Array(len);
    next.set(this.pages);
    this.pages = next;
  }

  /** A non-negative decimal integer field. */
  private int(name: string, field: string): number {
    this.skipSpaces();
    const buf = this.buf;
    const start = this.pos;
    let p = start;
    let v = 0;
    for (; p < this.end; p++) {
      const d = buf[p]! - 0x30;
      if (d < 0 || d > 9) break;
      v = v * 10 + d;
    }
    if (p === start || (p < this.end && buf[p] !== SPACE && buf[p] !== TAB) || v > MAX_INT) {
      throw this.bad(name, p === start && start >= this.end ? `missing ${field}` : `${field} '${this.text(start, this.tokenEnd(start))}'`);
    }
    this.pos = p;
    return v;
  }

  /** A decimal field (parseDecimalMicro) as millionths. */
  private decimalMicro(name: string, field: string): number {
    this.skipSpaces();
    const start = this.pos;
    const v = parseDecimalMicro(this.buf, start, this.end, this.scanEnd);
    if (v < 0) throw this.bad(name, start >= this.end ? `missing ${field}` : `${field} '${this.text(start, this.tokenEnd(start))}'`);
    this.pos = this.scanEnd.at;
    return v;
  }

  private done(name: string): void {
    this.skipSpaces();
    if (this.pos < this.end) throw this.bad(name, `unexpected '${this.text(this.pos, this.end)}' after the last field`);
  }

  private skipSpaces(): void {
    const buf = this.buf;
    while (this.pos < this.end && (buf[this.pos] === SPACE || buf[this.pos] === TAB)) this.pos++;
  }

  private tokenEnd(from: number): number {
    const buf = this.buf;
    const end = this.end;
    let p = from;
    while (p < end && buf[p] !== SPACE && buf[p] !== TAB) p++;
    return p;
  }

  private text(from: number, to: number): string {
    return Buffer.from(this.buf.buffer, this.buf.byteOffset + from, Math.min(to, from + 80) - from).toString('utf8');
  }

  private bad(name: string, detail: string): RtdirtyParseError {
    return new RtdirtyParseError(`${name} record (${detail})`);
  }
}
