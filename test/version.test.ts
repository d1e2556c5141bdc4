// Checks that the version written into trace headers is package.json's.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { PROGRAM_VERSION } from '../src/version.js';

it('PROGRAM_VERSION equals package.json version', () => {
  const pkg = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'package.json'), 'utf8')) as { version: string };
  expect(PROGRAM_VERSION).toBe(pkg.version);
});
