// The report's HTML: escaping, the page around the sections, and tables. One file with its styles and
// its only script inline, so it opens anywhere without the network; the tables are plain HTML (sorted
// best first already) and the script only adds sorting by a click on a column heading.
import type { Table } from '../table.js';

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

/** A `Table` of src/report/table.ts as an HTML table whose columns sort on click (numbers as numbers). */
export function htmlTable(table: Table, options: { id: string; caption?: string }): string {
  // The columns a person reads (those of markdown); CSV-only ones (job ids, raw statuses) stay out.
  const columns = table.columns.map((column, index) => ({ column, index })).filter(({ column }) => !column.only || column.only.includes('markdown'));
  const head = columns
    .map(({ column }) => {
      const title = column.group ? `${column.group} ${column.header}` : column.header;
      return `<th class="${column.align}" scope="col"><button type="button" class="sort">${escapeHtml(title)}</button></th>`;
    })
    .join('');
  const body = table.rows
    .map((row) => {
      const cells = columns.map(({ column, index }) => {
        const { raw, text } = row[index];
        const sortValue = raw === undefined || raw === null ? '' : String(raw);
        return `<td class="${column.align}" data-sort="${escapeHtml(sortValue)}">${escapeHtml(text)}</td>`;
      });
      return `<tr>${cells.join('')}</tr>`;
    })
    .join('\n');
  const caption = options.caption ? `<caption>${escapeHtml(options.caption)}</caption>` : '';
  const notes = table.notes.length > 0 ? `<ul class="notes">${table.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul>` : '';
  return `<div class="table-wrap"><table class="sortable" id="${escapeHtml(options.id)}">${caption}<thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table></div>${notes}`;
}

/** A chart: its inline SVG, a caption, and data attributes that tests and scripts can find it by. */
export function figure(svg: string, options: { chart: string; caption?: string; data?: Record<string, string | number> }): string {
  const attributes = Object.entries({ chart: options.chart, ...options.data })
    .map(([key, value]) => ` data-${key}="${escapeHtml(String(value))}"`)
    .join('');
  const caption = options.caption ? `<figcaption>${escapeHtml(options.caption)}</figcaption>` : '';
  return `<figure class="chart"${attributes}>${svg}${caption}</figure>`;
}

export function page(options: { title: string; body: string[] }): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="kdx">
<title>${escapeHtml(options.title)}</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style>
</head>
<body>
${options.body.join('\n')}
<script>${SORT_SCRIPT}</script>
</body>
</html>
`;
}

const STYLE = `
:root { color-scheme: light; --muted: #666; --line: #e3e3e3; --accent: #4c78a8; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0 auto; padding: 24px 32px 48px; max-width: 1280px; color: #222; background: #fff; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 32px 0 8px; padding-top: 8px; border-top: 1px solid var(--line); }
h3 { font-size: 14px; margin: 16px 0 6px; }
p.lead, .muted, figcaption, caption { color: var(--muted); }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 8px 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; font-variant-numeric: tabular-nums; }
details { margin: 8px 0; }
details pre { background: #f7f7f7; border: 1px solid var(--line); padding: 8px 12px; overflow: auto; max-height: 480px; font-size: 12px; }
.charts { display: flex; flex-wrap: wrap; gap: 16px 24px; align-items: flex-start; }
figure.chart { margin: 0; }
figure.chart svg { display: block; max-width: 100%; height: auto; }
figcaption { font-size: 12px; max-width: 420px; }
.missing { background: #fff8e1; border: 1px solid #f0d98c; padding: 8px 14px; margin: 12px 0; }
.missing ul { margin: 4px 0; padding-left: 20px; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; margin: 6px 0; }
caption { text-align: left; font-size: 12px; padding-bottom: 4px; }
th, td { padding: 3px 10px; border-bottom: 1px solid var(--line); white-space: nowrap; }
th { border-bottom: 2px solid #ccc; font-weight: 600; }
td.right, th.right { text-align: right; }
td.left, th.left { text-align: left; }
button.sort { font: inherit; font-weight: 600; background: none; border: 0; padding: 0; cursor: pointer; color: inherit; }
th[aria-sort="ascending"] button.sort::after { content: " ▲"; }
th[aria-sort="descending"] button.sort::after { content: " ▼"; }
tbody tr:hover { background: #f5f8fc; }
ul.notes { color: var(--muted); font-size: 12px; }
footer { margin-top: 40px; color: var(--muted); font-size: 12px; }
`;

// Sorting by a click on a heading; numbers compare as numbers, empty cells go last either way.
const SORT_SCRIPT = `
for (const table of document.querySelectorAll('table.sortable')) {
  const heads = [...table.tHead.rows[0].cells];
  heads.forEach((th, column) => th.querySelector('button.sort').addEventListener('click', () => {
    const descending = th.getAttribute('aria-sort') === 'ascending';
    heads.forEach((h) => h.removeAttribute('aria-sort'));
    th.setAttribute('aria-sort', descending ? 'descending' : 'ascending');
    const body = table.tBodies[0];
    const value = (row) => row.cells[column].dataset.sort;
    const rows = [...body.rows].sort((a, b) => {
      const x = value(a), y = value(b);
      if (x === '' || y === '') return (x === '') - (y === '');
      const nx = Number(x), ny = Number(y);
      const order = Number.isNaN(nx) || Number.isNaN(ny) ? x.localeCompare(y) : nx - ny;
      return descending ? -order : order;
    });
    body.append(...rows);
  }));
}
`;
