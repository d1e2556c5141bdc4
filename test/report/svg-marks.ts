/**
 * Reads a rendered report back: the figure of each chart, and the marks
 * vega drew in it. Vega's SVG renderer puts each mark's items in a group
 * classed `mark-<type> role-mark <name>_marks`; items are leaf elements
 * (path for rects and lines, line for rules, text for text), so a group's
 * items are the elements before its first closing tag.
 */

/** The SVG and caption of the figure with data-chart="id". */
export function figure(html: string, id: string): string {
  const start = html.search(new RegExp(`<figure data-chart="${id}"[ >]`));
  if (start < 0) throw new Error(`no figure data-chart="${id}" in the report`);
  const end = html.indexOf('</figure>', start);
  return html.slice(start, end);
}

export interface MarkGroups {
  /** How many groups the mark has (one per facet cell, or per series of a line). */
  readonly groups: number;
  /** The items in all its groups, with their aria-labels. */
  readonly items: readonly { readonly tag: string; readonly label: string }[];
}

/**
 * The items of mark `name` in all its groups; a chart drawn once per run
 * names its marks `name_0`, `name_1`, ...: `name` gathers them all, in
 * run order (pass `name_1` for one run's).
 */
export function marks(svg: string, name: string): MarkGroups {
  const open = new RegExp(`<g class="mark-[a-z]+ role-mark ${name}(?:_\\d+)?_marks"[^>]*>`, 'g');
  const items: { tag: string; label: string }[] = [];
  let groups = 0;
  for (let m = open.exec(svg); m; m = open.exec(svg)) {
    groups++;
    const body = svg.slice(m.index + m[0].length, svg.indexOf('</g>', m.index));
    for (const it of body.matchAll(/<(path|line|text|rect)\b([^>]*)>/g)) {
      items.push({ tag: it[1]!, label: /aria-label="([^"]*)"/.exec(it[2]!)?.[1] ?? '' });
    }
  }
  return { groups, items };
}

/** A field of an item's aria-label ("kind: npf_exit; exits: 25"). */
export function labelField(label: string, field: string): string | undefined {
  for (const part of label.split('; ')) {
    const i = part.indexOf(': ');
    if (i > 0 && part.slice(0, i) === field) return part.slice(i + 2);
  }
  return undefined;
}
