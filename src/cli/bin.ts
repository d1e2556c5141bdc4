#!/usr/bin/env node
import { processIo } from './cli-io.js';
import { main } from './main.js';
import { installTemporaryCleanup } from './temporary-janitor.js';

// `migsim inspect x.mst | head`: the reader went away; stop quietly as Unix tools do.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

installTemporaryCleanup();

main(process.argv.slice(2), processIo).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    // A bug, not a user error: keep the stack for the report.
    process.stderr.write(`migsim: internal error: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exitCode = 70;
  },
);
