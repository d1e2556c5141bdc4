// Before the tests: the bundled command line (dist/cli, what `migsim`
// runs) is made again from dist/src, so tests that start the CLI as a
// process run the code tsc just built, also after a build by tsc alone.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export default function setup(): void {
  const root = join(import.meta.dirname, '..');
  // Without dist/src the tests that need the built CLI say so themselves.
  if (!existsSync(join(root, 'dist', 'src', 'cli', 'bin.js'))) return;
  execFileSync(process.execPath, [join(root, 'scripts', 'bundle-cli.mjs')], { cwd: root, stdio: 'inherit' });
}
