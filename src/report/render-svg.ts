import type { TopLevelSpec } from 'vega-lite';

/**
 * Renders a vega-lite spec to an SVG string in Node: vega-lite compiles it
 * to a vega spec, and a headless vega View (renderer 'none', no canvas, no
 * DOM) draws the scenegraph as SVG. The spec must carry its data inline:
 * nothing is loaded, so the result depends only on the spec.
 *
 * vega and vega-lite are ES modules with top-level await: the bundle
 * (dist/cli, CommonJS for its code cache: src/cli/code-cache.cts) can only
 * import() them, not require them.
 */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const [{ parse, View }, { compile }] = await Promise.all([import('vega'), import('vega-lite')]);
  const vg = compile(spec).spec;
  const view = new View(parse(vg), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
