// Plain-text tables for terminal output.

export interface TableOptions {
  indent?: number;
  /** Column indices to right-align (numbers). */
  right?: number[];
}

export function table(header: string[], rows: string[][], options: TableOptions = {}): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const pad = ' '.repeat(options.indent ?? 0);
  const line = (cells: string[]) =>
    pad +
    cells
      .map((cell, c) => (options.right?.includes(c) ? cell.padStart(widths[c]) : cell.padEnd(widths[c])))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}
