import { PROGRAM_NAME, PROGRAM_VERSION } from '../version.js';

/** Text made safe for HTML content and attribute values. */
export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * The frame every migsim HTML file shares (run, compare, sweep and fleet
 * reports): one self-contained page, its styles inline, named by the
 * program that wrote it in a generator tag and a footer. `body` is the
 * page's own content, already escaped.
 */
export function htmlDocument(title: string, style: string, body: string): string {
  const program = esc(`${PROGRAM_NAME} ${PROGRAM_VERSION}`);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="generator" content="${program}">
<title>${esc(title)}</title>
<style>${style}</style>
</head>
<body>
${body}
<footer>${program}</footer>
</body>
</html>
`;
}
