// Measures what src/reducers/migration/page-codec.ts takes from this
// machine: each zlib level's (node's zlib) and zstd level's (the zstd CLI's
// benchmark mode) compression ratio and speed, in 512 KiB packets (QEMU's
// MULTIFD_PACKET_SIZE), on a mixed corpus of 8 MiB of JavaScript text and 8
// MiB of x86-64 code, best of five interleaved runs; and the bytes a packet
// of random data and of zeros costs. Needs `zstd` on the PATH.
//   node bench/codec-costs.mjs [TEXT_FILE] [BINARY_FILE]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import zlib from 'node:zlib';

const PACKET = 512 * 1024;
const MIB8 = 8 * 1024 * 1024;
const text = readFileSync(process.argv[2] ?? 'node_modules/typescript/lib/typescript.js').subarray(0, MIB8);
const binary = readFileSync(process.argv[3] ?? process.execPath).subarray(16 * 1024 * 1024, 16 * 1024 * 1024 + MIB8);
const dir = mkdtempSync(join(tmpdir(), 'codec-'));
const corpora = { mixed: Buffer.concat([text, binary]), random: randomBytes(MIB8), zero: Buffer.alloc(MIB8) };
for (const [name, buf] of Object.entries(corpora)) writeFileSync(join(dir, name), buf);

function deflate(buf, level) {
  let out = 0;
  const t0 = process.hrtime.bigint();
  for (let o = 0; o < buf.length; o += PACKET) out += zlib.deflateRawSync(buf.subarray(o, o + PACKET), { level, finishFlush: zlib.constants.Z_SYNC_FLUSH }).length;
  return { out, mbPerSec: buf.length / 1e6 / (Number(process.hrtime.bigint() - t0) / 1e9) };
}
function zstd(name, level) {
  const t = execFileSync('sh', ['-c', `zstd -b${level} -B${PACKET} -i1 ${join(dir, name)} 2>&1 | tr '\\r' '\\n' | grep -- '->' | tail -1`]).toString();
  const m = /->\s+(\d+).*?,\s+([0-9.]+) MB\/s/.exec(t);
  return { out: Number(m[1]), mbPerSec: Number(m[2]) };
}
for (const name of Object.keys(corpora)) {
  const buf = corpora[name];
  const best = {};
  for (let rep = 0; rep < 5; rep++) {
    for (let level = 1; level <= 9; level++) {
      for (const [key, r] of [[`zlib ${level}`, deflate(buf, level)], [`zstd ${level}`, zstd(name, level)]]) {
        best[key] ??= { out: r.out, mbPerSec: 0 };
        best[key].mbPerSec = Math.max(best[key].mbPerSec, r.mbPerSec);
      }
    }
  }
  for (const [key, r] of Object.entries(best)) {
    console.log(`${name}\t${key}\tratio ${(buf.length / r.out).toFixed(3)}\tbytes per packet ${(r.out / (buf.length / PACKET)).toFixed(1)}\t${r.mbPerSec.toFixed(1)} MB/s`);
  }
}
