// XML request body processor (ctl:requestBodyProcessor=XML), built on saxes.
//
// ModSecurity v3 builds a libxml2 document and resolves `XML:<xpath>` against it, one variable
// per node with xmlNodeGetContent() as the value (src/variables/xml.cc). The two XPaths rules use
// (CRS: `XML:/*` and `XML://@*`) are precomputed here into the XML collection under those literal
// keys:
//   - "/*"   one entry: the text content of the root element, i.e. every text and CDATA node
//            below it concatenated in document order (whitespace included, comments and PIs not);
//   - "//@*" one entry per attribute, in document order, value = the attribute value
//            (namespace declarations are not attributes in XPath and are skipped).
// Values are UTF-8 byte strings. Nothing is expanded beyond the five predefined entities and
// character references: a DTD is skipped (never fetched), and any other entity reference is an
// error ("undefined entity"), so entity bombs and external entities fail instead of expanding.
// Malformed input → "XML parsing error: XML: Failed parsing document." plus line/column; what was
// collected before the error stays (libxml2 keeps the partial tree). Bounded: depth 256 (libxml2's
// default), XML_MAX_NODES elements + attributes.
import { SaxesParser } from 'saxes';
import type { Transaction } from '../engine/transaction.js';
import { invalidUtf8At, lineColumn, toUtf8Bytes } from './utf8.js';

export const XML_MAX_DEPTH = 256;
export const XML_MAX_NODES = 250_000;
/** How many text nodes are kept one by one (for Sidewall's DECODED_VALUES; CRS sees XML:/* whole). */
export const XML_MAX_LEAVES = 512;
/**
 * Collection holding those text nodes. Not a SecLang variable of its own: ModSecurity's XML:/* is
 * the concatenated text, and that stays as it is; decoding needs the nodes apart ("<q>b64</q><n>1</n>"
 * would otherwise decode "b641").
 */
export const XML_LEAVES_COLLECTION = 'SIDEWALL_XML_LEAVES';
export const XML_ERROR_PREFIX = 'XML parsing error: XML: Failed parsing document. ';

export interface XmlResult {
  /** Text content of the root element (null when no root element was opened). */
  text: string | null;
  /** Attribute values in document order. */
  attributes: string[];
  /** Each non-blank text node (element text, CDATA) on its own, in document order, at most XML_MAX_LEAVES. */
  leaves: string[];
  /** Error detail (with position), or null. */
  error: string | null;
}

export interface XmlParseOptions {
  partial: boolean;
  maxDepth?: number;
  maxNodes?: number;
}

class Stop {
  constructor(readonly message: string) {}
}

/** Decodes the body bytes per BOM / XML declaration; returns the text or an error. */
function decode(body: string, partial: boolean): { text: string } | { error: string } {
  const b0 = body.charCodeAt(0);
  const b1 = body.charCodeAt(1);
  if ((b0 === 0xff && b1 === 0xfe) || (b0 === 0xfe && b1 === 0xff)) {
    const buf = Buffer.from(body.slice(2), 'latin1');
    const le = b0 === 0xff;
    const usable = buf.length - (buf.length % 2);
    if (usable !== buf.length && !partial) return { error: 'line 1, column 1: truncated UTF-16 input' };
    const bytes = buf.subarray(0, usable);
    if (!le) bytes.swap16();
    return { text: bytes.toString('utf16le') };
  }
  let s = body;
  if (b0 === 0xef && b1 === 0xbb && body.charCodeAt(2) === 0xbf) s = body.slice(3);
  // <?xml ... encoding="..."?>
  let encoding = 'utf-8';
  if (s.startsWith('<?xml')) {
    const end = s.indexOf('?>');
    const decl = end < 0 ? s.slice(0, 200) : s.slice(0, end);
    const m = /\bencoding\s*=\s*["']([A-Za-z0-9._-]+)["']/.exec(decl);
    if (m !== null) encoding = m[1]!.toLowerCase();
  }
  if (encoding === 'iso-8859-1' || encoding === 'latin1' || encoding === 'latin-1' || encoding === 'iso_8859-1') {
    return { text: s }; // a byte string is already ISO-8859-1 text
  }
  if (encoding === 'us-ascii' || encoding === 'ascii') {
    for (let i = 0; i < s.length; i++) {
      if (s.charCodeAt(i) > 0x7f) {
        const pos = lineColumn(s, i);
        return { error: `line ${pos.line}, column ${pos.column}: input is not proper US-ASCII` };
      }
    }
    return { text: s };
  }
  if (encoding !== 'utf-8' && encoding !== 'utf8') return { error: `line 1, column 1: unsupported encoding ${encoding}` };
  const bad = invalidUtf8At(s, partial);
  if (bad >= 0) {
    const pos = lineColumn(s, bad);
    return { error: `line ${pos.line}, column ${pos.column}: input is not proper UTF-8` };
  }
  let end = s.length;
  if (partial) {
    // Drop a multi-byte sequence cut by the end of a partial body.
    let k = end - 1;
    while (k >= 0 && end - k <= 3 && (s.charCodeAt(k) & 0xc0) === 0x80) k--;
    if (k >= 0 && s.charCodeAt(k) >= 0xc0) {
      const c = s.charCodeAt(k);
      const len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
      if (end - k < len) end = k;
    }
  }
  return { text: Buffer.from(end === s.length ? s : s.slice(0, end), 'latin1').toString('utf8') };
}

// saxes (6.x) keeps text it has not emitted yet in its private `text` field while in one of
// these states: S_TEXT, S_ENTITY, S_CDATA, S_CDATA_ENDING, S_CDATA_ENDING_2.
const TEXT_STATES = new Set([13, 14, 20, 21, 22]);

function pendingText(parser: SaxesParser): string {
  const internals = parser as unknown as { state?: unknown; text?: unknown };
  return typeof internals.state === 'number' && TEXT_STATES.has(internals.state) && typeof internals.text === 'string' ? internals.text : '';
}

/** Parses an XML byte string and collects root text content and attribute values. */
export function parseXml(body: string, opts: XmlParseOptions): XmlResult {
  const maxDepth = opts.maxDepth ?? XML_MAX_DEPTH;
  const maxNodes = opts.maxNodes ?? XML_MAX_NODES;
  const result: XmlResult = { text: null, attributes: [], leaves: [], error: null };
  const decoded = decode(body, opts.partial);
  if ('error' in decoded) {
    result.error = decoded.error;
    return result;
  }
  const parser = new SaxesParser({ xmlns: false, position: true });
  // Only the five predefined entities; a null-prototype map so "&constructor;" is not found.
  parser.ENTITIES = Object.assign(Object.create(null) as Record<string, string>, { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" });
  const texts: string[] = [];
  let depth = 0;
  let nodes = 0;
  let sawRoot = false;
  const where = (): string => `line ${parser.line}, column ${parser.column + 1}`;
  parser.on('error', (err) => {
    // saxes prefixes "line:column: "; report it in our own words.
    const msg = err.message.replace(/^\d+:\d+: /, '');
    throw new Stop(`${where()}: ${msg}`);
  });
  parser.on('doctype', () => {
    // The DTD is skipped: no entity declarations are honoured, nothing external is fetched.
  });
  parser.on('opentag', (tag) => {
    depth++;
    sawRoot = true;
    if (depth > maxDepth) throw new Stop(`${where()}: Excessive depth in document: ${maxDepth}`);
    if (++nodes > maxNodes) throw new Stop(`${where()}: node limit exceeded (${maxNodes})`);
    const attrs = tag.attributes;
    for (const name in attrs) {
      if (name === 'xmlns' || name.startsWith('xmlns:')) continue;
      if (++nodes > maxNodes) throw new Stop(`${where()}: node limit exceeded (${maxNodes})`);
      result.attributes.push(toUtf8Bytes(attrs[name]!));
    }
  });
  parser.on('closetag', () => {
    depth--;
  });
  const leaf = (t: string): void => {
    if (result.leaves.length < XML_MAX_LEAVES && t.trim() !== '') result.leaves.push(toUtf8Bytes(t));
  };
  parser.on('text', (t) => {
    if (depth > 0) {
      texts.push(t);
      leaf(t);
    }
  });
  parser.on('cdata', (t) => {
    if (depth > 0) {
      texts.push(t);
      leaf(t);
    }
  });
  try {
    parser.write(decoded.text);
    if (depth > 0) {
      // Text not yet flushed (no '<' after it): a cut body or an unclosed root still shows it.
      const pending = pendingText(parser);
      if (pending.length > 0) {
        texts.push(pending);
        leaf(pending);
      }
    }
    // A truncated body cannot be complete: skip the end-of-document checks.
    if (!opts.partial) parser.close();
  } catch (e) {
    if (!(e instanceof Stop)) {
      result.error = `${where()}: ${e instanceof Error ? e.message : String(e)}`;
    } else {
      result.error = e.message;
    }
  }
  if (sawRoot) result.text = toUtf8Bytes(texts.join(''));
  return result;
}

/** The XML body processor. */
export function processXml(tx: Transaction, body: string): string | null {
  const r = parseXml(body, { partial: tx.request.bodyPartial });
  if (r.text !== null) tx.addToCollection('XML', '/*', r.text);
  for (const v of r.attributes) tx.addToCollection('XML', '//@*', v);
  for (const v of r.leaves) tx.addToCollection(XML_LEAVES_COLLECTION, '/*', v);
  return r.error === null ? null : XML_ERROR_PREFIX + '(' + r.error + ')';
}
