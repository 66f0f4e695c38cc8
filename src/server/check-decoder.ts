// CheckRequest wire bytes → engine HttpRequest + CheckContext, in one pass and without the
// proto-loader objects (grpc-js calls it as the Check method's request deserializer).
//
// A small hand-written protobuf reader for exactly the fields check-mapper.ts reads; everything
// else is skipped by wire type. The result is the same MappedCheck that
// mapCheckRequest(proto-loader decode(bytes)) gives (test/check-decoder.test.ts compares both on
// generated requests), including protobufjs' decoding rules:
// - a repeated occurrence of a singular message field replaces the earlier one (no merge);
// - map entries accumulate into a plain object (last value of a key wins, first position kept);
// - strings are UTF-8 decoded (invalid sequences become U+FFFD), then turned into byte strings.
// Malformed bytes (truncated, bad wire type, a known field with the wrong wire type) throw a
// CheckRequestError naming the field and byte offset.
import { buildMappedCheck, CheckRequestError, HeaderCollector, toByteString, type MappedCheck, type PeerInfo } from './check-mapper.js';

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;
const WIRE_START_GROUP = 3;
const WIRE_END_GROUP = 4;
const WIRE_FIXED32 = 5;

const EMPTY_RECORD: Readonly<Record<string, string>> = Object.freeze({});
const EMPTY_PEER: PeerInfo = Object.freeze({ address: '', port: 0, principal: '', service: '', labels: EMPTY_RECORD });

/** Decodes metadata_context (config.core.v3.Metadata) bytes to filter_metadata; see setMetadataDecoder. */
export type MetadataDecoder = (metadataBytes: Buffer) => Record<string, unknown>;

/** A byte range [start, end) of the message buffer. */
interface Range {
  start: number;
  end: number;
}


function malformed(what: string, offset: number): never {
  throw new CheckRequestError(`CheckRequest is malformed: ${what} at byte ${offset}`);
}

/** Cursor over one protobuf message (a sub-range of the whole buffer). */
class Reader {
  pos: number;
  /** Wire type of the last tag read. */
  wire = 0;
  constructor(
    readonly buf: Buffer,
    start: number,
    readonly end: number,
    /** Dotted field path of this message, for errors. */
    readonly where: string,
  ) {
    this.pos = start;
  }

  more(): boolean {
    return this.pos < this.end;
  }

  /** Reads a tag; returns the field number (wire type in this.wire). */
  tag(): number {
    const at = this.pos;
    const t = this.varint32();
    this.wire = t & 7;
    const field = t >>> 3;
    if (field === 0) malformed(`${this.where}: field number 0`, at);
    return field;
  }

  /** A varint, low 32 bits as an unsigned number (protobufjs uint32 semantics). */
  varint32(): number {
    const buf = this.buf;
    let value = 0;
    let shift = 0;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) malformed(`${this.where}: truncated varint`, this.pos);
      const b = buf[this.pos++]!;
      if (shift < 32) value += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return value % 4294967296;
      shift += 7;
    }
    return malformed(`${this.where}: varint longer than 10 bytes`, this.pos);
  }

  /** The payload range of a length-delimited field whose tag was just read. */
  bytes(field: string): Range {
    if (this.wire !== WIRE_LEN) malformed(`${this.where}.${field}: wire type ${this.wire}, expected 2 (length-delimited)`, this.pos);
    const len = this.varint32();
    const start = this.pos;
    const end = start + len;
    if (end > this.end) malformed(`${this.where}.${field}: length ${len} runs past the end of the message`, start);
    this.pos = end;
    return { start, end };
  }

  uint32(field: string): number {
    if (this.wire !== WIRE_VARINT) malformed(`${this.where}.${field}: wire type ${this.wire}, expected 0 (varint)`, this.pos);
    return this.varint32();
  }

  /** Skips the value of the tag just read. */
  skip(field: number): void {
    this.skipWire(this.wire, field, 0);
  }

  private skipWire(wire: number, field: number, depth: number): void {
    const at = this.pos;
    switch (wire) {
      case WIRE_VARINT:
        this.varint32();
        return;
      case WIRE_FIXED64:
        this.advance(8, field, at);
        return;
      case WIRE_LEN: {
        const len = this.varint32();
        this.advance(len, field, at);
        return;
      }
      case WIRE_FIXED32:
        this.advance(4, field, at);
        return;
      case WIRE_START_GROUP: {
        if (depth > 32) malformed(`${this.where}: groups nested too deeply`, at);
        for (;;) {
          if (this.pos >= this.end) malformed(`${this.where}: unterminated group ${field}`, at);
          const t = this.varint32();
          const w = t & 7;
          if (w === WIRE_END_GROUP) {
            if (t >>> 3 !== field) malformed(`${this.where}: group ${field} closed by ${t >>> 3}`, at);
            return;
          }
          this.skipWire(w, t >>> 3, depth + 1);
        }
      }
      default:
        malformed(`${this.where}: field ${field} has invalid wire type ${wire}`, at);
    }
  }

  private advance(n: number, field: number, at: number): void {
    if (this.pos + n > this.end) malformed(`${this.where}: field ${field} runs past the end of the message`, at);
    this.pos += n;
  }

  sub(r: Range, where: string): Reader {
    return new Reader(this.buf, r.start, r.end, where);
  }
}

function isAscii(buf: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (buf[i]! >= 0x80) return false;
  return true;
}

/** Proto string as protobufjs decodes it (UTF-8, U+FFFD for invalid sequences). */
function utf8(buf: Buffer, r: Range): string {
  return r.start === r.end ? '' : buf.toString('utf8', r.start, r.end);
}

/** Proto string → engine byte string: what toByteString(utf8(...)) gives, without the detour for ASCII. */
function byteString(buf: Buffer, r: Range): string {
  if (r.start === r.end) return '';
  if (isAscii(buf, r.start, r.end)) return buf.toString('latin1', r.start, r.end);
  return Buffer.from(buf.toString('utf8', r.start, r.end), 'utf8').toString('latin1');
}

/** One map<string,string> entry (key = 1, value = 2) into `into` (UTF-8 values). */
function readStringMapEntry(reader: Reader, r: Range, into: Record<string, string>, where: string): void {
  const e = reader.sub(r, where);
  let key = '';
  let value = '';
  while (e.more()) {
    const f = e.tag();
    if (f === 1) key = utf8(e.buf, e.bytes('key'));
    else if (f === 2) value = utf8(e.buf, e.bytes('value'));
    else e.skip(f);
  }
  // protobufjs' decoded maps keep "__proto__" as an own key; a plain assignment would drop it.
  if (key === '__proto__') Object.defineProperty(into, key, { value, enumerable: true, writable: true, configurable: true });
  else into[key] = value;
}

// ---- Peer (AttributeContext.Peer) ----

function readPeer(reader: Reader, r: Range, where: string): PeerInfo {
  const p = reader.sub(r, where);
  let addressRange: Range | null = null;
  let service = '';
  let principal = '';
  let labels: Record<string, string> | null = null;
  while (p.more()) {
    const f = p.tag();
    if (f === 1) addressRange = p.bytes('address');
    else if (f === 2) service = utf8(p.buf, p.bytes('service'));
    else if (f === 3) readStringMapEntry(p, p.bytes('labels'), (labels ??= {}), `${where}.labels`);
    else if (f === 4) principal = utf8(p.buf, p.bytes('principal'));
    else p.skip(f);
  }
  let address = '';
  let port = 0;
  if (addressRange !== null) {
    // Address: socket_address = 1 | pipe = 2 (oneof; socket_address preferred like the mapper).
    const a = p.sub(addressRange, `${where}.address`);
    let socket: Range | null = null;
    let pipe: Range | null = null;
    while (a.more()) {
      const f = a.tag();
      if (f === 1) socket = a.bytes('socket_address');
      else if (f === 2) pipe = a.bytes('pipe');
      else a.skip(f);
    }
    if (socket !== null) {
      const s = a.sub(socket, `${where}.address.socket_address`);
      while (s.more()) {
        const f = s.tag();
        if (f === 2) address = utf8(s.buf, s.bytes('address'));
        else if (f === 3) port = s.uint32('port_value');
        else s.skip(f);
      }
    } else if (pipe !== null) {
      const s = a.sub(pipe, `${where}.address.pipe`);
      while (s.more()) {
        const f = s.tag();
        if (f === 1) address = utf8(s.buf, s.bytes('path'));
        else s.skip(f);
      }
    }
  }
  return { address, port, principal, service, labels: labels ?? EMPTY_RECORD };
}

// ---- the decoder ----

/**
 * Decodes one CheckRequest. `decodeMetadata` turns metadata_context bytes into filter_metadata
 * (rare in sidecars; done with the proto-loader definition so Struct values keep their shape).
 * Throws CheckRequestError when the bytes are malformed or lack what every Envoy sends.
 */
export function decodeCheckRequest(buf: Buffer, decodeMetadata: MetadataDecoder): MappedCheck {
  // CheckRequest: attributes = 1.
  const top = new Reader(buf, 0, buf.length, 'CheckRequest');
  let attributes: Range | null = null;
  while (top.more()) {
    const f = top.tag();
    if (f === 1) attributes = top.bytes('attributes');
    else top.skip(f);
  }
  if (attributes === null) throw new CheckRequestError('CheckRequest.attributes is missing');

  // AttributeContext: source 1, destination 2, request 4, context_extensions 10, metadata_context 11, tls_session 12.
  const at = top.sub(attributes, 'CheckRequest.attributes');
  let source: Range | null = null;
  let destination: Range | null = null;
  let request: Range | null = null;
  let metadata: Range | null = null;
  let tls: Range | null = null;
  let contextExtensions: Record<string, string> | null = null;
  while (at.more()) {
    const f = at.tag();
    if (f === 1) source = at.bytes('source');
    else if (f === 2) destination = at.bytes('destination');
    else if (f === 4) request = at.bytes('request');
    else if (f === 10) readStringMapEntry(at, at.bytes('context_extensions'), (contextExtensions ??= {}), 'CheckRequest.attributes.context_extensions');
    else if (f === 11) metadata = at.bytes('metadata_context');
    else if (f === 12) tls = at.bytes('tls_session');
    else at.skip(f);
  }
  if (request === null) throw new CheckRequestError('CheckRequest.attributes.request is missing');

  // Request: http = 2.
  const rq = at.sub(request, 'CheckRequest.attributes.request');
  let httpRange: Range | null = null;
  while (rq.more()) {
    const f = rq.tag();
    if (f === 2) httpRange = rq.bytes('http');
    else rq.skip(f);
  }
  if (httpRange === null) throw new CheckRequestError('CheckRequest.attributes.request.http is missing (only HTTP checks are supported)');

  // HttpRequest: id 1, method 2, headers 3 (map), path 4, host 5, scheme 6, protocol 10, body 11,
  // raw_body 12, header_map 13. Strings are kept as ranges and decoded once at the end.
  const where = 'CheckRequest.attributes.request.http';
  const h = rq.sub(httpRange, where);
  let id: Range | null = null;
  let method: Range | null = null;
  let path: Range | null = null;
  let host: Range | null = null;
  let scheme: Range | null = null;
  let protocol: Range | null = null;
  let bodyText: Range | null = null;
  let rawBody: Range | null = null;
  let headerMap: Range | null = null;
  let headersMap: Record<string, string> | null = null;
  while (h.more()) {
    const f = h.tag();
    switch (f) {
      case 1: id = h.bytes('id'); break;
      case 2: method = h.bytes('method'); break;
      case 3: readStringMapEntry(h, h.bytes('headers'), (headersMap ??= {}), `${where}.headers`); break;
      case 4: path = h.bytes('path'); break;
      case 5: host = h.bytes('host'); break;
      case 6: scheme = h.bytes('scheme'); break;
      case 10: protocol = h.bytes('protocol'); break;
      case 11: bodyText = h.bytes('body'); break;
      case 12: rawBody = h.bytes('raw_body'); break;
      case 13: headerMap = h.bytes('header_map'); break;
      default: h.skip(f);
    }
  }

  const hc = new HeaderCollector();
  let rawHeaderCount = 0;
  if (headerMap !== null) {
    // encode_raw_headers: HeaderMap { repeated HeaderValue headers = 1 }, HeaderValue { key 1, value 2, raw_value 3 }.
    const hm = h.sub(headerMap, `${where}.header_map`);
    while (hm.more()) {
      const f = hm.tag();
      if (f !== 1) {
        hm.skip(f);
        continue;
      }
      rawHeaderCount++;
      const hv = hm.sub(hm.bytes('headers'), `${where}.header_map.headers`);
      let keyR: Range | null = null;
      let valueR: Range | null = null;
      let rawR: Range | null = null;
      while (hv.more()) {
        const g = hv.tag();
        if (g === 1) keyR = hv.bytes('key');
        else if (g === 2) valueR = hv.bytes('value');
        else if (g === 3) rawR = hv.bytes('raw_value');
        else hv.skip(g);
      }
      const hasRaw = rawR !== null && rawR.end > rawR.start;
      const value = hasRaw ? buf.toString('latin1', rawR!.start, rawR!.end) : valueR === null ? '' : byteString(buf, valueR);
      if (hc.add(keyR === null ? '' : utf8(buf, keyR), value)) {
        hc.requestId = hasRaw ? buf.toString('utf8', rawR!.start, rawR!.end) : valueR === null ? '' : utf8(buf, valueR);
      }
    }
  }
  if (rawHeaderCount === 0 && headersMap !== null) {
    // The headers map, in the order (and with the last value per key) of the decoded object.
    const map: Record<string, string> = headersMap;
    for (const key in map) {
      const text = map[key]!;
      if (hc.add(key, toByteString(text))) hc.requestId = text;
    }
  }

  let body: Buffer | null = null;
  if (rawBody !== null && rawBody.end > rawBody.start) body = buf.subarray(rawBody.start, rawBody.end);
  else if (bodyText !== null && bodyText.end > bodyText.start) body = Buffer.from(buf.toString('utf8', bodyText.start, bodyText.end), 'utf8');

  let sni = '';
  if (tls !== null) {
    const t = at.sub(tls, 'CheckRequest.attributes.tls_session');
    while (t.more()) {
      const f = t.tag();
      if (f === 1) sni = utf8(buf, t.bytes('sni'));
      else t.skip(f);
    }
  }

  const text = (r: Range | null) => (r === null ? '' : utf8(buf, r));
  const bytes = (r: Range | null) => (r === null ? '' : byteString(buf, r));
  return buildMappedCheck(
    hc,
    { method: bytes(method), hostText: text(host), uri: bytes(path), id: text(id), protocol: bytes(protocol), scheme: text(scheme), body },
    {
      source: source === null ? EMPTY_PEER : readPeer(at, source, 'CheckRequest.attributes.source'),
      destination: destination === null ? EMPTY_PEER : readPeer(at, destination, 'CheckRequest.attributes.destination'),
      contextExtensions: contextExtensions ?? EMPTY_RECORD,
      filterMetadata: metadata === null ? EMPTY_RECORD : filterMetadata(buf.subarray(metadata.start, metadata.end), metadata.start, decodeMetadata),
      sni,
    },
  );
}

function filterMetadata(bytes: Buffer, offset: number, decodeMetadata: MetadataDecoder): Record<string, unknown> {
  try {
    return decodeMetadata(bytes);
  } catch (err) {
    return malformed(`CheckRequest.attributes.metadata_context: ${err instanceof Error ? err.message : String(err)}`, offset);
  }
}

// ---- the grpc-js deserializer ----

/** What the Check handler receives: the mapped request, or why the bytes could not be decoded. */
export type DecodedCheck = { mapped: MappedCheck; error: null } | { mapped: null; error: CheckRequestError };

function varintBytes(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
  return out;
}

/**
 * filter_metadata through the proto-loader decoder (so google.protobuf.Struct keeps the shape the
 * mapper gives): the Metadata bytes are re-framed as CheckRequest{attributes{metadata_context}}.
 */
export function protoLoaderMetadataDecoder(deserialize: (bytes: Buffer) => unknown): MetadataDecoder {
  return (md) => {
    const inner = Buffer.concat([Buffer.from([0x5a, ...varintBytes(md.length)]), md]);
    const outer = Buffer.concat([Buffer.from([0x0a, ...varintBytes(inner.length)]), inner]);
    const msg = deserialize(outer) as { attributes?: { metadata_context?: { filter_metadata?: Record<string, unknown> | null } | null } | null };
    return msg.attributes?.metadata_context?.filter_metadata || EMPTY_RECORD;
  };
}

/** A grpc-js requestDeserialize that never throws: decode failures reach the handler as `error`. */
export function checkRequestDeserializer(decodeMetadata: MetadataDecoder): (bytes: Buffer) => DecodedCheck {
  return (bytes) => {
    try {
      return { mapped: decodeCheckRequest(bytes, decodeMetadata), error: null };
    } catch (err) {
      if (err instanceof CheckRequestError) return { mapped: null, error: err };
      // protobufjs, used for metadata, throws plain errors on bad bytes.
      return { mapped: null, error: new CheckRequestError(`CheckRequest is malformed: ${err instanceof Error ? err.message : String(err)}`) };
    }
  };
}
