// Checks that nothing below src/cli reads the clock, the environment's
// randomness or timers (DESIGN section 10), and names what to use instead.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const BANNED: readonly { pattern: RegExp; use: string }[] = [
  { pattern: /\bDate\.now\s*\(/, use: 'integer guest or wall time (ns) carried by the events' },
  { pattern: /\bnew Date\s*\(/, use: 'integer guest or wall time (ns) carried by the events' },
  { pattern: /\bperformance\.now\s*\(/, use: 'the simulated clock; time only in src/cli or bench' },
  { pattern: /\bprocess\.hrtime\b/, use: 'the simulated clock; time only in src/cli or bench' },
  { pattern: /\bMath\.random\s*\(/, use: 'deriveStream(seed, name) from src/random/derive-stream.ts' },
  { pattern: /\bsetTimeout\s*\(/, use: 'event time; reducers run synchronously over batches' },
  { pattern: /\bsetInterval\s*\(/, use: 'event time; reducers run synchronously over batches' },
  { pattern: /\bprocess\.env\b/, use: 'an explicit option passed down from src/cli' },
];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return sourceFiles(p);
    return p.endsWith('.ts') ? [p] : [];
  });
}

describe('tidy', () => {
  it('src/ below the CLI uses no clock, Math.random, timers or environment', () => {
    const root = join(import.meta.dirname, '..', 'src');
    const problems: string[] = [];
    for (const file of sourceFiles(root)) {
      const rel = relative(root, file);
      if (rel.startsWith('cli')) continue;
      readFileSync(file, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          if (/^\s*(\/\/|\*)/.test(line)) return;
          for (const b of BANNED) if (b.pattern.test(line)) problems.push(`src/${rel}:${i + 1}: ${line.trim()} — use ${b.use}`);
        });
    }
    expect(problems).toEqual([]);
  });

  it('the tidy check does catch a banned call (so the test above can fail)', () => {
    expect(BANNED.some((b) => b.pattern.test('const t = Date.now();'))).toBe(true);
    expect(BANNED.some((b) => b.pattern.test('x = Math.random()'))).toBe(true);
  });
});
