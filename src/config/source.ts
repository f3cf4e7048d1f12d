// The experiment file as text and as a YAML document, and the mapping from a path in the data back to
// a line and column of the text.
import { LineCounter, Parser, parseDocument, isAlias, isMap, isSeq, isScalar, isPair, type CST, type Document, type Node } from 'yaml';
import type { Diagnostic, PathSegment } from './diagnostics.js';
import { formatPath } from './diagnostics.js';

export interface Source {
  file: string;
  text: string;
  lines: string[];
  doc: Document.Parsed;
  lineCounter: LineCounter;
}

export function parseSource(file: string, text: string): { source: Source; syntaxErrors: Diagnostic[] } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, merge: true, uniqueKeys: true, prettyErrors: false });
  const source: Source = { file, text, lines: text.split(/\r?\n/), doc, lineCounter };
  // After a syntax error the parser recovers by guessing, and every failed guess adds an error that only
  // echoes the first one (an unquoted `{a: ${T}}` gives a dozen): report the first. Duplicate keys are
  // independent of each other and of syntax errors: report them all.
  const firstSyntaxError = doc.errors.find((error) => error.code !== 'DUPLICATE_KEY');
  const syntaxErrors = doc.errors
    .filter((error) => error.code === 'DUPLICATE_KEY' || error === firstSyntaxError)
    .map((error) => {
      const offset = error.pos[0];
      const { line, col } = lineCounter.linePos(offset);
      const lineText = source.lines[line - 1] ?? '';
      if (error.code === 'DUPLICATE_KEY') {
        const key = /^\s*-?\s*([^:\s]+)\s*:/.exec(lineText)?.[1];
        return at(source, line, col, formatPath(pathAtOffset(doc, offset)), key ? `duplicate key "${key}"` : 'duplicate key');
      }
      const reference = unquotedFlowReference(lineText, col);
      if (reference) {
        return at(source, line, reference.col, formatPath([]), `YAML syntax error: inside [ ] or { }, a reference must be quoted: "${reference.text}"`);
      }
      // The yaml library's first line says what went wrong; the rest repeats the source.
      const first = error.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
      // YAML notices a missing ] or " only where it runs out of text, often many lines further: the
      // mistake is where the bracket or quote opens.
      const opening = unclosedOpening(text, offset);
      if (opening) {
        const opened = lineCounter.linePos(opening.offset);
        const diagnostic = at(source, opened.line, opened.col, formatPath([]), `YAML syntax error: this ${opening.char} is never closed`);
        const gaveUp = at(source, line, col, '', `YAML gave up here: ${first}`);
        return opened.line === line ? diagnostic : { ...diagnostic, notes: [gaveUp] };
      }
      let hint = '';
      if (error.code === 'BLOCK_AS_IMPLICIT_KEY') {
        // The value on this line reads as a key: it holds a second `key:`, or the next line goes on with it.
        hint = /:(\s|$)/.test(lineText.slice(col - 1)) ? ' (a second "key:" on one line: quote the value)' : ' (is the next line indented too far?)';
      }
      return at(source, line, col, formatPath([]), `YAML syntax error: ${first}${hint}`);
    });
  return { source, syntaxErrors };
}

/**
 * An unquoted `${name}` inside a flow collection (`{temperature: ${T}}`, `[${h}, 8]`) of a line, which YAML
 * reads as a `$` followed by a mapping: the one at or before the error's column, else the first.
 */
function unquotedFlowReference(line: string, col: number): { text: string; col: number } | undefined {
  const unquoted = [...line.matchAll(/\$\{[^}]*\}/g)].filter((match) => {
    const before = line.slice(0, match.index);
    const insideQuotes = (before.split('"').length - 1) % 2 === 1 || (before.split("'").length - 1) % 2 === 1;
    const insideFlow = /[[{]/.test(before.replace(/\$\{[^}]*\}/g, ''));
    return !insideQuotes && insideFlow;
  });
  const match = unquoted.findLast((m) => m.index < col) ?? unquoted[0];
  return match && { text: match[0], col: match.index + 1 };
}

/**
 * The innermost `[`, `{`, `"` or `'` that opens at or before `before` and is never closed, found in the
 * parser's concrete syntax tree (a bracket closed by the wrong kind, as `[1, 2}`, counts as unclosed).
 */
function unclosedOpening(text: string, before: number): { offset: number; char: string } | undefined {
  const closers: Record<string, string> = { '[': ']', '{': '}' };
  const find = (token: unknown): { offset: number; char: string } | undefined => {
    if (token === null || typeof token !== 'object') return undefined;
    const t = token as { type?: string; offset?: number };
    // A child inside an unclosed collection is a better guess than the collection: its missing closer
    // is what made the collection's closer look like its own.
    for (const child of Object.values(token)) {
      const found = Array.isArray(child) ? child.map(find).find(Boolean) : find(child);
      if (found) return found;
    }
    if (t.offset === undefined || t.offset > before) return undefined;
    if (t.type === 'flow-collection') {
      const collection = token as CST.FlowCollection;
      const closer = closers[collection.start.source];
      if (!collection.end.some((end) => end.source === closer)) return { offset: collection.offset, char: collection.start.source };
    }
    if ((t.type === 'double-quoted-scalar' || t.type === 'single-quoted-scalar') && !isClosedQuote((token as CST.FlowScalar).source)) {
      return { offset: t.offset, char: (token as CST.FlowScalar).source[0] };
    }
    return undefined;
  };
  for (const token of new Parser().parse(text)) {
    const found = find(token);
    if (found) return found;
  }
  return undefined;
}

/** Whether a quoted scalar's source holds its closing quote (`\"` escapes a double quote, `''` a single one). */
function isClosedQuote(source: string): boolean {
  const quote = source[0];
  for (let i = 1; i < source.length; i++) {
    if (quote === '"' && source[i] === '\\') i++;
    else if (quote === "'" && source[i] === "'" && source[i + 1] === "'") i++;
    else if (source[i] === quote) return true;
  }
  return false;
}

export function at(source: Source, line: number, col: number, path: string, message: string): Diagnostic {
  return { file: source.file, line, col, path, message, sourceLine: source.lines[line - 1] };
}

/** Locates a path of the data: the node itself, or its key (`onKey`), or the nearest parent that exists. */
export function locate(source: Source, path: readonly PathSegment[], onKey = false): { line: number; col: number } {
  for (let depth = path.length; depth >= 0; depth--) {
    const prefix = path.slice(0, depth);
    const node = getNode(source.doc, prefix, onKey && depth === path.length);
    const offset = node?.range?.[0];
    if (offset !== undefined) return source.lineCounter.linePos(offset);
  }
  return { line: 1, col: 1 };
}

/** Whether the file itself writes a value at `path` (not only some parent of it). */
export function hasNode(source: Source, path: readonly PathSegment[]): boolean {
  return getNode(source.doc, path, false) !== undefined;
}

/** A diagnostic located at a path of the data. */
export function diagnosticAt(source: Source, path: readonly PathSegment[], message: string, onKey = false): Diagnostic {
  const { line, col } = locate(source, path, onKey);
  return at(source, line, col, formatPath(path), message);
}

/**
 * The YAML node at a path, following merge keys (`<<: *base`) and aliases, so a value that comes from an
 * anchor is located where it is written.
 */
function getNode(doc: Document.Parsed, path: readonly PathSegment[], wantKey: boolean): Node | undefined {
  let node: unknown = doc.contents;
  for (let i = 0; i < path.length; i++) {
    node = resolveAlias(doc, node);
    const segment = path[i];
    const last = i === path.length - 1;
    if (isSeq(node) && typeof segment === 'number') {
      node = node.items[segment];
    } else if (isMap(node)) {
      const pair = findPair(doc, node, String(segment));
      if (!pair) return undefined;
      node = last && wantKey ? pair.key : pair.value ?? pair.key;
    } else {
      return undefined;
    }
  }
  return node as Node | undefined;
}

function findPair(doc: Document.Parsed, map: unknown, key: string): { key: Node; value: Node | null } | undefined {
  if (!isMap(map)) return undefined;
  // Later keys win in YAML merges; direct keys win over merged ones.
  for (const pair of map.items) {
    if (isScalar(pair.key) && String(pair.key.value) === key) return pair as { key: Node; value: Node | null };
  }
  for (const pair of map.items) {
    if (isMergeKey(pair.key)) {
      const sources = isSeq(pair.value) ? pair.value.items : [pair.value];
      for (const merged of sources) {
        const found = findPair(doc, resolveAlias(doc, merged), key);
        if (found) return found;
      }
    }
  }
  return undefined;
}

/** `<<`: with `merge: true` the yaml library reads its value as a symbol, Symbol('<<'). */
function isMergeKey(key: unknown): boolean {
  if (!isScalar(key)) return false;
  return typeof key.value === 'symbol' ? key.value.description === '<<' : key.value === '<<';
}

function resolveAlias(doc: Document.Parsed, node: unknown): unknown {
  return isAlias(node) ? node.resolve(doc) : node;
}

/** The path of the map key at a text offset (for duplicate keys). */
function pathAtOffset(doc: Document.Parsed, offset: number): PathSegment[] {
  const path: PathSegment[] = [];
  let node: unknown = doc.contents;
  for (;;) {
    if (isMap(node)) {
      const pair = node.items.find((p) => {
        const start = (p.key as Node | null)?.range?.[0] ?? Infinity;
        const end = (p.value as Node | null)?.range?.[2] ?? (p.key as Node | null)?.range?.[2] ?? -1;
        return start <= offset && offset <= end;
      });
      if (!pair || !isScalar(pair.key)) return path;
      if ((pair.key.range?.[0] ?? -1) === offset) return [...path, String(pair.key.value)];
      path.push(String(pair.key.value));
      node = pair.value;
    } else if (isSeq(node)) {
      const index = node.items.findIndex((item) => {
        const r = (item as Node | null)?.range;
        return r != null && r[0] <= offset && offset <= r[2];
      });
      if (index < 0) return path;
      path.push(index);
      node = node.items[index];
    } else {
      return path;
    }
    if (isPair(node)) return path;
  }
}
