// multipart/form-data request body processor, reproducing ModSecurity v3's parser
// (src/request_body_processor/multipart.cc: init(), process(), process_part_header(),
// parse_content_disposition(), process_boundary(), multipart_complete()).
//
// Boundary (init): first Content-Type header, <= 1024 bytes, "multipart/form-data" prefix, a
// single case-sensitive `boundary` parameter; between the MIME type and it only whitespace and
// one ';' (none → MULTIPART_MISSING_SEMICOLON); whitespace around '=' → MULTIPART_BOUNDARY_WHITESPACE;
// "..." → MULTIPART_BOUNDARY_QUOTED; the value runs to the end of the header and must use RFC 2046
// characters. Any failure is fatal (error, MULTIPART_STRICT_ERROR=1).
//
// Body: processed line by line as ModSecurity does (its 4096-byte line buffer included: a part
// header line that long is fatal). A line "--<boundary>" followed by CRLF/LF (or "--" for the
// final one) is a boundary (LF-only → MULTIPART_LF_LINE, CRLF → crlf; both → MULTIPART_CRLF_LF_LINES);
// anything else after the boundary text is fatal, as are "--\"<boundary>" with a quoted boundary
// and "--  <boundary>". Other "--" lines, and lines containing "--<boundary>", set
// MULTIPART_UNMATCHED_BOUNDARY. Data before the first boundary → MULTIPART_DATA_BEFORE, after the
// last → MULTIPART_DATA_AFTER. Part headers: CRLF/LF flags per line, folding →
// MULTIPART_HEADER_FOLDING (+ MULTIPART_INVALID_HEADER_FOLDING when not SP/HT), a NUL byte, a line
// without ':' or a name, a duplicate header, a missing/invalid Content-Disposition (form-data;
// name=..; filename=.. only, ' quoting → MULTIPART_INVALID_QUOTING) are fatal. A part without a
// name (headers never ended) → MULTIPART_INVALID_PART. A part value excludes the line break before
// the next boundary. filename="" is a form field, as in v3.
//
// Variables: ARGS_POST name→value (SecArgumentsLimit honoured: refusing an argument stops with an
// error), FILES name→filename (part name as key: v2, and v3 since PR #2379 / issue #2377),
// FILES_NAMES name→name, FILES_SIZES name→size, FILES_TMP_CONTENT name→content (v3 PR #2831;
// kept even without SecTmpSaveUploadedFiles: it is a slice of the body), FILES_TMPNAMES ""→"" (no temporary
// files are written), FILES_COMBINED_SIZE (when there are files), MULTIPART_PART_HEADERS
// name→"Header: value" per header line, MULTIPART_NAME / MULTIPART_FILENAME (v3 keeps every value
// seen in a Content-Disposition as a collection; they are stored both as collection entries and as
// the scalar holding the last one), and every MULTIPART_* flag as '0'/'1', except
// UNMATCHED_BOUNDARY which keeps ModSecurity's last-event value: 1 after a line that looks like a
// boundary but is not ours, 2 after any matching boundary past the first (so it ends as 2 on every
// complete body with two or more boundary lines; the recommended rule 200004 tests "@eq 1").
// MULTIPART_STRICT_ERROR is the OR of the others except
// UNMATCHED_BOUNDARY and CRLF_LF_LINES, plus fatal errors. SecUploadFileLimit: files past it are
// counted but not listed, MULTIPART_FILE_LIMIT_EXCEEDED=1 and an error (v3). SecRequestBodyNoFilesLimit:
// header bytes + form values over it is an error. A missing final boundary is an error unless the
// body was cut upstream (bodyPartial), in which case the last part so far is still handed over.
import type { Transaction } from '../engine/transaction.js';

export const MULTIPART_BUF_SIZE = 4096;
export const MULTIPART_ERROR_PREFIX = 'Multipart parsing error: ';

export interface MultipartFlags {
  error: number;
  dataBefore: number;
  dataAfter: number;
  headerFolding: number;
  boundaryQuoted: number;
  lfLine: number;
  crlfLine: number;
  /** 0, 1 (a line looked like a boundary but was not ours) or 2 (a later boundary matched). */
  unmatchedBoundary: number;
  boundaryWhitespace: number;
  missingSemicolon: number;
  invalidQuoting: number;
  invalidPart: number;
  invalidHeaderFolding: number;
  fileLimitExceeded: number;
}

export interface MultipartEvents {
  /** A form field; return false when it was refused (arguments limit): parsing stops. */
  field(name: string, value: string): boolean;
  /** A file part within SecUploadFileLimit. */
  file(name: string, filename: string, content: string): void;
  /** The header lines of a part that was handed over (field accepted or file within the limit). */
  headers(name: string, lines: readonly string[]): void;
  /** Each Content-Disposition name / filename value as parsed (MULTIPART_NAME / MULTIPART_FILENAME). */
  cdName(value: string): void;
  cdFilename(value: string): void;
}

export interface MultipartOptions {
  partial: boolean;
  /** SecUploadFileLimit; <= 0 means no limit. */
  fileLimit: number;
  /** SecRequestBodyNoFilesLimit; <= 0 means no limit. */
  noFilesLimit: number;
}

export interface MultipartResult {
  flags: MultipartFlags;
  /** Error text (without the "Multipart parsing error: " prefix) or null. */
  error: string | null;
  boundary: string | null;
  /** Form parts and files handed over. */
  fields: number;
  files: number;
  /** Bytes of part headers and form values (what SecRequestBodyNoFilesLimit counts). */
  noFilesLength: number;
}

class Fatal {
  constructor(readonly message: string) {}
}

/** C isspace(): SP, \t, \n, \v, \f, \r. */
function isSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

function isTokenChar(c: number): boolean {
  if (c <= 32 || c >= 127) return false;
  switch (c) {
    case 0x28: case 0x29: case 0x3c: case 0x3e: case 0x40: case 0x2c: case 0x3b: case 0x3a:
    case 0x5c: case 0x22: case 0x2f: case 0x5b: case 0x5d: case 0x3f: case 0x3d:
      return false;
  }
  return true;
}

/** RFC 2046 boundary characters (space allowed but not last). */
function boundaryCharactersValid(b: string): boolean {
  for (let i = 0; i < b.length; i++) {
    const c = b.charCodeAt(i);
    const ok =
      (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) ||
      (c === 0x20 && i + 1 < b.length) ||
      c === 0x27 || c === 0x28 || c === 0x29 || c === 0x2b || c === 0x5f || c === 0x2c || c === 0x2d ||
      c === 0x2e || c === 0x2f || c === 0x3a || c === 0x3d || c === 0x3f;
    if (!ok) return false;
  }
  return true;
}

/** Occurrences of "boundary" (case-insensitive) with an '=' somewhere after them. */
function countBoundaryParams(s: string): number {
  const lower = s.toLowerCase();
  let count = 0;
  let pos = lower.indexOf('boundary');
  while (pos >= 0) {
    pos += 8;
    if (lower.indexOf('=', pos) >= 0) count++;
    pos = lower.indexOf('boundary', pos);
  }
  return count;
}

/** ModSecurity's utils::string::chomp: strip trailing CR/LF unless the string is only CR/LF. */
function chomp(s: string): string {
  let end = s.length;
  while (end > 0 && (s.charCodeAt(end - 1) === 0x0a || s.charCodeAt(end - 1) === 0x0d)) end--;
  return end === 0 ? s : s.slice(0, end);
}

export function newFlags(): MultipartFlags {
  return {
    error: 0, dataBefore: 0, dataAfter: 0, headerFolding: 0, boundaryQuoted: 0, lfLine: 0, crlfLine: 0,
    unmatchedBoundary: 0, boundaryWhitespace: 0, missingSemicolon: 0, invalidQuoting: 0,
    invalidPart: 0, invalidHeaderFolding: 0, fileLimitExceeded: 0,
  };
}

/** Extracts and validates the boundary from the Content-Type value (Multipart::init). */
export function parseBoundary(header: string | undefined, flags: MultipartFlags): { boundary: string } | { error: string } {
  const fail = (msg: string): { error: string } => {
    flags.error = 1;
    return { error: msg };
  };
  if (header === undefined || header.length === 0) return fail('Multipart: Content-Type header not available.');
  if (header.length > 1024) return fail('Multipart: Invalid boundary in C-T (length).');
  if (header.slice(0, 19).toLowerCase() !== 'multipart/form-data') return fail('Multipart: Invalid MIME type.');
  if (countBoundaryParams(header) > 1) return fail('Multipart: Multiple boundary parameters in C-T.');
  const at = header.indexOf('boundary');
  if (at < 0) {
    if (countBoundaryParams(header) > 0) return fail('Multipart: Invalid boundary in C-T (case sensitivity).');
    return fail('Multipart: Boundary not found in C-T.');
  }
  let seenSemicolon = false;
  for (let p = 19; p < at; p++) {
    const c = header.charCodeAt(p);
    if (isSpace(c)) continue;
    if (!seenSemicolon && c === 0x3b) seenSemicolon = true;
    else return fail('Multipart: Invalid boundary in C-T (malformed).');
  }
  if (!seenSemicolon) flags.missingSemicolon = 1;
  const eq = header.indexOf('=', at + 8);
  if (eq < 0) return fail('Multipart: Invalid boundary in C-T (malformed).');
  for (let p = at + 8; p < eq; p++) {
    if (isSpace(header.charCodeAt(p))) flags.boundaryWhitespace = 1;
    else return fail('Multipart: Invalid boundary in C-T (parameter name).');
  }
  const b = header.slice(eq + 1);
  if (b.length > 0 && isSpace(b.charCodeAt(0))) flags.boundaryWhitespace = 1;
  let boundary: string;
  if (b.length >= 2 && b.charCodeAt(0) === 0x22 && b.charCodeAt(b.length - 1) === 0x22) {
    boundary = b.slice(1, -1);
    flags.boundaryQuoted = 1;
  } else {
    if (b.charCodeAt(0) === 0x22 || (b.length >= 2 && b.charCodeAt(b.length - 1) === 0x22)) {
      return fail('Multipart: Invalid boundary in C-T (quote).');
    }
    boundary = b;
  }
  if (boundary.length === 0) return fail('Multipart: Invalid boundary in C-T (empty).');
  if (countBoundaryParams(boundary) !== 0) return fail('Multipart: Invalid boundary in C-T (content).');
  if (!boundaryCharactersValid(boundary)) return fail('Multipart: Invalid boundary in C-T (characters).');
  return { boundary };
}

interface Part {
  /** Part headers in arrival order: [name, value]. */
  headers: Array<[string, string]>;
  /** "Name: value" lines for MULTIPART_PART_HEADERS (folded continuations appended). */
  lines: string[];
  /** Index into headers of the header being built (for folding), -1 when none. */
  last: number;
  /** 0: reading headers; 1: reading data. */
  state: 0 | 1;
  name: string;
  filename: string;
  isFile: boolean;
  /** Body index where the data starts (state 1). */
  dataStart: number;
  /** Every name= / filename= value met in Content-Disposition (MULTIPART_NAME / _FILENAME). */
  cdNames: string[];
  cdFilenames: string[];
}

function newPart(): Part {
  return { headers: [], lines: [], last: -1, state: 0, name: '', filename: '', isFile: false, dataStart: 0, cdNames: [], cdFilenames: [] };
}

/**
 * Multipart::parse_content_disposition. Returns 1 or a negative code (ModSecurity's numbering);
 * fills part.name / part.filename and flags invalid quoting.
 */
function parseContentDisposition(v: string, part: Part, flags: MultipartFlags): number {
  if (!v.startsWith('form-data')) return -1;
  const n = v.length;
  let p = 9;
  while (p < n && (v.charCodeAt(p) === 0x09 || v.charCodeAt(p) === 0x20)) p++;
  if (p >= n) return 1;
  if (v.charCodeAt(p) !== 0x3b) return -2;
  p++;
  const ws = (): void => {
    while (p < n && (v.charCodeAt(p) === 0x09 || v.charCodeAt(p) === 0x20)) p++;
  };
  while (p < n) {
    ws();
    if (p >= n) return -3;
    const start = p;
    while (p < n && v.charCodeAt(p) !== 0x3d && v.charCodeAt(p) !== 0x09 && v.charCodeAt(p) !== 0x20) p++;
    if (p >= n) return -4;
    const name = v.slice(start, p);
    ws();
    if (p >= n) return -5;
    if (v.charCodeAt(p) !== 0x3d) return -13;
    p++;
    ws();
    if (p >= n) return -6;
    let value = '';
    const q = v.charCodeAt(p);
    if (q === 0x22 || q === 0x27) {
      if (q === 0x27) flags.invalidQuoting = 1;
      p++;
      if (p >= n) return -7;
      let closed = false;
      let seg = p;
      while (p < n) {
        const c = v.charCodeAt(p);
        if (c === 0x5c) {
          if (p + 1 >= n) return -8;
          const e = v.charCodeAt(p + 1);
          if (e === q || e === 0x5c) {
            // only the quote and '\' can be escaped: drop the backslash
            value += v.slice(seg, p);
            p++;
            seg = p;
          }
        } else if (c === q) {
          closed = true;
          break;
        }
        p++;
      }
      value += v.slice(seg, p);
      if (!closed) return -10; // unterminated quoted value
      p++;
    } else {
      const start2 = p;
      while (p < n && isTokenChar(v.charCodeAt(p))) p++;
      value = v.slice(start2, p);
    }
    if (name === 'name') {
      if (value.includes("'")) flags.invalidQuoting = 1;
      part.cdNames.push(value);
      if (part.name.length > 0) return -14;
      part.name = value;
    } else if (name === 'filename') {
      if (value.includes("'")) flags.invalidQuoting = 1;
      part.cdFilenames.push(value);
      if (part.filename.length > 0) return -15;
      part.filename = value;
    } else {
      return -11;
    }
    if (p < n) {
      ws();
      if (p >= n) return 1;
      if (v.charCodeAt(p) !== 0x3b) {
        const prev = v.charCodeAt(p - 1);
        if (prev === 0x27 || prev === 0x22) flags.invalidQuoting = 1;
        return -12;
      }
      p++;
    }
  }
  return 1;
}

/** Parses a multipart body. Pure apart from `events`. */
export function parseMultipart(contentType: string | undefined, body: string, opts: MultipartOptions, events: MultipartEvents): MultipartResult {
  const flags = newFlags();
  const result: MultipartResult = { flags, error: null, boundary: null, fields: 0, files: 0, noFilesLength: 0 };
  const b = parseBoundary(contentType, flags);
  if ('error' in b) {
    result.error = b.error;
    return result;
  }
  const boundary = b.boundary;
  result.boundary = boundary;
  const blen = boundary.length;
  const needle = '--' + boundary;
  const n = body.length;
  let part: Part | null = null;
  let boundaryCount = 0;
  let complete = false;
  let fileCount = 0;
  let fileLimitError: string | null = null;
  let nextNeedle = -2; // lazily computed index of the next "--<boundary>" occurrence

  const finishPart = (dataEnd: number, stripEol: boolean): void => {
    const p = part;
    part = null;
    if (p === null) return;
    if (p.state === 0 || p.name.length === 0) {
      flags.invalidPart = 1;
      return;
    }
    let end = dataEnd;
    if (stripEol && end > p.dataStart && body.charCodeAt(end - 1) === 0x0a) {
      end--;
      if (end > p.dataStart && body.charCodeAt(end - 1) === 0x0d) end--;
    }
    const value = body.slice(p.dataStart, end);
    const announce = (): void => {
      for (const v of p.cdNames) events.cdName(v);
      for (const v of p.cdFilenames) events.cdFilename(v);
      events.headers(p.name, p.lines);
    };
    if (p.isFile) {
      fileCount++;
      if (opts.fileLimit > 0 && fileCount > opts.fileLimit) {
        if (flags.fileLimitExceeded === 0) {
          flags.fileLimitExceeded = 1;
          fileLimitError = `Multipart: Upload file limit exceeded ${opts.fileLimit}. Use SecUploadFileLimit to change the limit.`;
        }
        return;
      }
      result.files++;
      announce();
      events.file(p.name, p.filename, value);
    } else {
      result.noFilesLength += value.length;
      result.fields++;
      if (!events.field(p.name, value)) throw new Fatal('arguments limit exceeded');
      announce();
    }
  };

  /** One part header line [s, e) (e just past '\n'): Multipart::process_part_header. */
  const headerLine = (s: number, e: number): void => {
    const p = part!;
    const len = e - s;
    const line = body.slice(s, e);
    if (line.indexOf('\0') >= 0) throw new Fatal('Multipart: Nul byte in part headers.');
    result.noFilesLength += len;
    if (len > 1 && line.charCodeAt(len - 2) === 0x0d) flags.crlfLine = 1;
    else flags.lfLine = 1;
    if (line === '\r\n' || line === '\n') {
      let cd: string | undefined;
      for (const [hn, hv] of p.headers) {
        if (hn.toLowerCase() === 'content-disposition') {
          cd = hv;
          break;
        }
      }
      if (cd === undefined) throw new Fatal('Multipart: Part missing Content-Disposition header.');
      const rc = parseContentDisposition(cd, p, flags);
      if (rc < 0) throw new Fatal(`Multipart: Invalid Content-Disposition header (${rc}): ${cd}`);
      if (p.name.length === 0) throw new Fatal('Multipart: Content-Disposition header missing name field.');
      if (p.filename.length > 0) {
        if (!cd.includes('filename=')) throw new Fatal('Multipart: Invalid Content-Disposition header (filename).');
        p.isFile = true;
      }
      p.state = 1;
      p.last = -1;
      p.dataStart = e;
      return;
    }
    const c0 = line.charCodeAt(0);
    if (isSpace(c0)) {
      // header folding
      flags.headerFolding = 1;
      if (c0 !== 0x09 && c0 !== 0x20) flags.invalidHeaderFolding = 1;
      if (p.last < 0) throw new Fatal('Multipart: Invalid part header (folding error).');
      let d = 0;
      while (d < len && isSpace(line.charCodeAt(d))) {
        const c = line.charCodeAt(d);
        if (c !== 0x09 && c !== 0x20) flags.invalidHeaderFolding = 1;
        d++;
      }
      const add = chomp(line.slice(d));
      const h = p.headers[p.last]!;
      h[1] = h[1] + ' ' + add;
      p.lines[p.last] = p.lines[p.last] + ' ' + add;
      if (h[1].length > MULTIPART_BUF_SIZE) throw new Fatal('Multipart: Part header too long.');
      return;
    }
    const colon = line.indexOf(':');
    if (colon < 0) throw new Fatal('Multipart: Invalid part header (colon missing): ' + chomp(line));
    if (colon === 0) throw new Fatal('Multipart: Invalid part header (header name missing).');
    const name = line.slice(0, colon);
    let d = colon + 1;
    while (d < len && (line.charCodeAt(d) === 0x09 || line.charCodeAt(d) === 0x20)) d++;
    const value = chomp(line.slice(d));
    const lower = name.toLowerCase();
    for (const [hn] of p.headers) {
      if (hn.toLowerCase() === lower) throw new Fatal(`Multipart: Duplicate part header: ${name}.`);
    }
    p.last = p.headers.length;
    p.headers.push([name, value]);
    p.lines.push(`${name}: ${value}`);
  };

  let i = 0;
  try {
    while (i < n) {
      let nl = body.indexOf('\n', i);
      if (nl < 0) break; // an unterminated last line is looked at by the completion checks
      const s = i;
      const e = nl + 1;
      i = e;
      let asBoundary = false;
      // ModSecurity sees a line only through its C string: stop at a NUL for the "--" checks.
      if (body.charCodeAt(s) === 0x2d && body.charCodeAt(s + 1) === 0x2d && effLen(body, s, e, blen + 3) > 3) {
        const eff = effLen(body, s, e, blen + 3);
        if (eff >= blen + 2 && body.startsWith(boundary, s + 2)) {
          let be = s + 2 + blen;
          // As ModSecurity: any boundary after the first sets 2, hiding an earlier 1.
          if (boundaryCount > 0) flags.unmatchedBoundary = 2;
          let isFinal = false;
          if (body.charCodeAt(be) === 0x2d && body.charCodeAt(be + 1) === 0x2d) {
            isFinal = true;
            be += 2;
          }
          if (be === e - 2 && body.charCodeAt(be) === 0x0d) flags.crlfLine = 1;
          else if (be === e - 1) flags.lfLine = 1;
          else throw new Fatal('Multipart: Invalid boundary: ' + chomp(body.slice(s, e)));
          finishPart(s, true);
          boundaryCount++;
          asBoundary = true;
          if (isFinal) {
            complete = true;
          } else {
            part = newPart();
          }
        } else {
          if (flags.boundaryQuoted && eff >= blen + 3 && body.charCodeAt(s + 2) === 0x22 && body.startsWith(boundary, s + 3)) {
            throw new Fatal('Multipart: Invalid boundary (quotes).');
          }
          let q = s + 2;
          while (q < e && isSpace(body.charCodeAt(q))) q++;
          if (q !== s + 2 && body.startsWith(boundary, q)) throw new Fatal('Multipart: Invalid boundary (whitespace).');
          flags.unmatchedBoundary = 1;
        }
      } else {
        // Anything resembling our boundary inside the line?
        if (nextNeedle !== -1 && nextNeedle < s) nextNeedle = body.indexOf(needle, s);
        if (nextNeedle >= s && nextNeedle + needle.length <= e) flags.unmatchedBoundary = 1;
      }
      if (!asBoundary) {
        if (part === null) {
          flags.dataBefore = 1;
        } else if (part.state === 0) {
          if (e - s >= MULTIPART_BUF_SIZE) throw new Fatal(`Multipart: Part header line over ${MULTIPART_BUF_SIZE} bytes long`);
          headerLine(s, e);
        }
        // data lines are sliced out of the body when the part ends
      }
      if (complete) {
        if (i < n) flags.dataAfter = 1;
        break;
      }
    }
    if (!complete) {
      const tail = body.slice(i);
      if (boundaryCount > 0 && tail.length === 4 + blen && tail === needle + '--') {
        // final boundary without a line break after it
        finishPart(i, true);
        complete = true;
      } else if (part !== null && part.state === 0 && tail.length >= MULTIPART_BUF_SIZE && !opts.partial) {
        throw new Fatal(`Multipart: Part header line over ${MULTIPART_BUF_SIZE} bytes long`);
      }
    }
    if (!complete) {
      // Hand over what the last part had so far (ModSecurity would drop it; inspecting it is safer).
      if (part !== null && (part as Part).state === 1) finishPart(n, false);
      else part = null;
      if (!opts.partial) {
        result.error = boundaryCount > 0 ? 'Multipart: Final boundary missing.' : 'Multipart: No boundaries found in payload.';
      }
    }
  } catch (e) {
    if (!(e instanceof Fatal)) throw e;
    flags.error = 1;
    result.error = e.message;
    return result;
  }
  if (result.error === null && fileLimitError !== null) result.error = fileLimitError;
  if (result.error === null && opts.noFilesLimit > 0 && result.noFilesLength > opts.noFilesLimit) {
    result.error = `Request body no files data length is larger than the configured limit (${opts.noFilesLimit}).`;
  }
  return result;
}

/** Length of the C string view of line [s, e): up to the first NUL, looking at most `max` bytes. */
function effLen(body: string, s: number, e: number, max: number): number {
  const lim = Math.min(e, s + max);
  for (let k = s; k < lim; k++) if (body.charCodeAt(k) === 0) return k - s;
  return lim === e ? e - s : max + 1;
}

/** MULTIPART_STRICT_ERROR as multipart_complete() computes it. */
export function strictError(f: MultipartFlags): boolean {
  return (
    f.error !== 0 || f.boundaryQuoted !== 0 || f.boundaryWhitespace !== 0 || f.dataBefore !== 0 || f.dataAfter !== 0 ||
    f.headerFolding !== 0 || f.lfLine !== 0 || f.missingSemicolon !== 0 || f.invalidQuoting !== 0 || f.invalidPart !== 0 ||
    f.invalidHeaderFolding !== 0 || f.fileLimitExceeded !== 0
  );
}

function firstHeader(tx: Transaction, name: string): string | undefined {
  for (const [k, v] of tx.request.headers) if (k.toLowerCase() === name) return v;
  return undefined;
}

/** The MULTIPART body processor. */
export function processMultipart(tx: Transaction, body: string): string | null {
  let combined = 0;
  let refused = false;
  const r = parseMultipart(
    firstHeader(tx, 'content-type'),
    body,
    { partial: tx.request.bodyPartial, fileLimit: tx.ruleset.uploadFileLimit, noFilesLimit: tx.ruleset.requestBodyNoFilesLimit },
    {
      field(name, value) {
        if (tx.addArgument('POST', name, value)) return true;
        refused = true;
        return false;
      },
      file(name, filename, content) {
        tx.addToCollection('FILES', name, filename);
        tx.addToCollection('FILES_NAMES', name, name);
        tx.addToCollection('FILES_SIZES', name, String(content.length));
        tx.addToCollection('FILES_TMP_CONTENT', name, content);
        tx.addToCollection('FILES_TMPNAMES', '', '');
        combined += content.length;
        tx.setScalar('FILES_COMBINED_SIZE', String(combined));
      },
      headers(name, lines) {
        for (const l of lines) tx.addToCollection('MULTIPART_PART_HEADERS', name, l);
      },
      cdName(value) {
        tx.addToCollection('MULTIPART_NAME', value, value);
        tx.setScalar('MULTIPART_NAME', value);
      },
      cdFilename(value) {
        tx.addToCollection('MULTIPART_FILENAME', value, value);
        tx.setScalar('MULTIPART_FILENAME', value);
      },
    },
  );
  const f = r.flags;
  const set = (name: string, v: number | boolean): void => tx.setScalar(name, v ? '1' : '0');
  tx.setScalar('MULTIPART_UNMATCHED_BOUNDARY', String(f.unmatchedBoundary));
  set('MULTIPART_DATA_BEFORE', f.dataBefore);
  set('MULTIPART_DATA_AFTER', f.dataAfter);
  set('MULTIPART_BOUNDARY_QUOTED', f.boundaryQuoted);
  set('MULTIPART_BOUNDARY_WHITESPACE', f.boundaryWhitespace);
  set('MULTIPART_HEADER_FOLDING', f.headerFolding);
  set('MULTIPART_LF_LINE', f.lfLine);
  set('MULTIPART_CRLF_LF_LINES', f.crlfLine && f.lfLine);
  set('MULTIPART_MISSING_SEMICOLON', f.missingSemicolon);
  set('MULTIPART_SEMICOLON_MISSING', f.missingSemicolon);
  set('MULTIPART_INVALID_QUOTING', f.invalidQuoting);
  set('MULTIPART_INVALID_PART', f.invalidPart);
  set('MULTIPART_INVALID_HEADER_FOLDING', f.invalidHeaderFolding);
  set('MULTIPART_FILE_LIMIT_EXCEEDED', f.fileLimitExceeded);
  set('MULTIPART_STRICT_ERROR', strictError(f));
  if (r.error === null) return null;
  if (refused) return `${MULTIPART_ERROR_PREFIX}SecArgumentsLimit (${tx.ruleset.argumentsLimit}) exceeded`;
  return MULTIPART_ERROR_PREFIX + r.error;
}
