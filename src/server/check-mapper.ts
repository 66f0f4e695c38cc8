// CheckRequest (as decoded by proto-loader with LOADER_OPTIONS) → engine HttpRequest.
//
// Mirrors how Envoy's ext_authz filter fills AttributeContext (CheckRequestUtils):
// - request.http.headers is a map of lower-cased names, repeated headers merged with ",",
//   and it includes the pseudo-headers :authority, :method, :path, :scheme (HTTP/1 Host is
//   turned into :authority); values are UTF-8 strings.
// - with encode_raw_headers, request.http.header_map carries the headers instead, one entry
//   per header line (not merged), key + raw_value bytes.
// - path is the raw request target (path + query, never decoded); query/fragment are empty.
// - body is a string, or raw_body bytes with pack_as_bytes; `x-envoy-auth-partial-body`
//   (true|false) is added when request bodies are buffered.
// Every string handed to the engine is a byte string (latin1, one char per byte).
import { randomUUID } from 'node:crypto';
import type { HttpRequest } from '../engine/api.js';

// ---- the decoded message shapes (only what we read) ----

export interface HeaderValueMsg {
  key: string;
  value: string;
  raw_value: Buffer | null;
}

export interface SocketAddressMsg {
  address: string;
  port_value?: number | null;
}

export interface AddressMsg {
  socket_address?: SocketAddressMsg | null;
  pipe?: { path: string } | null;
}

export interface PeerMsg {
  address: AddressMsg | null;
  service: string;
  labels: Record<string, string> | null;
  principal: string;
  certificate: string;
}

export interface HttpRequestMsg {
  id: string;
  method: string;
  headers: Record<string, string> | null;
  header_map: { headers: HeaderValueMsg[] | null } | null;
  path: string;
  host: string;
  scheme: string;
  query: string;
  fragment: string;
  size: number;
  protocol: string;
  body: string;
  raw_body: Buffer | null;
}

export interface MetadataMsg {
  filter_metadata: Record<string, unknown> | null;
}

export interface AttributeContextMsg {
  source: PeerMsg | null;
  destination: PeerMsg | null;
  request: { http: HttpRequestMsg | null } | null;
  context_extensions: Record<string, string> | null;
  metadata_context: MetadataMsg | null;
  route_metadata_context?: MetadataMsg | null;
  tls_session?: { sni: string } | null;
}

export interface CheckRequestMsg {
  attributes: AttributeContextMsg | null;
}

// ---- the side structure ----

export interface PeerInfo {
  /** IP (or unix socket path) as sent, UTF-8. '' when unknown. */
  address: string;
  port: number;
  principal: string;
  service: string;
  labels: Readonly<Record<string, string>>;
}

/** What the server may need besides the engine request (namespace selection, events, logs). */
export interface CheckContext {
  /** Request id as received (UTF-8, not latin1-encoded), for responses and logs. */
  requestId: string;
  /** :authority / Host, UTF-8. */
  host: string;
  scheme: string;
  source: PeerInfo;
  destination: PeerInfo;
  contextExtensions: Readonly<Record<string, string>>;
  /** metadata_context.filter_metadata as decoded (google.protobuf.Struct objects). */
  filterMetadata: Readonly<Record<string, unknown>>;
  /** TLS SNI when include_tls_session is on, else ''. */
  sni: string;
}

export interface MappedCheck {
  request: HttpRequest;
  context: CheckContext;
}

/** The CheckRequest cannot be evaluated; answered with INVALID_ARGUMENT. */
export class CheckRequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckRequestError';
  }
}

const NON_ASCII = /[^\x00-\x7f]/;
const EMPTY_RECORD: Readonly<Record<string, string>> = Object.freeze({});
const EMPTY_PEER: PeerInfo = Object.freeze({ address: '', port: 0, principal: '', service: '', labels: EMPTY_RECORD });
const PARTIAL_BODY_HEADER = 'x-envoy-auth-partial-body';

/** UTF-8 JS string (as protobufjs decodes proto strings) → byte string (one char per byte). */
export function toByteString(s: string): string {
  if (s.length === 0 || !NON_ASCII.test(s)) return s;
  return Buffer.from(s, 'utf8').toString('latin1');
}

function peerInfo(peer: PeerMsg | null | undefined): PeerInfo {
  if (!peer) return EMPTY_PEER;
  const addr = peer.address;
  let address = '';
  let port = 0;
  if (addr) {
    const sa = addr.socket_address;
    if (sa) {
      address = sa.address;
      port = typeof sa.port_value === 'number' ? sa.port_value : 0;
    } else if (addr.pipe) {
      address = addr.pipe.path;
    }
  }
  return {
    address,
    port,
    principal: peer.principal || '',
    service: peer.service || '',
    labels: peer.labels || EMPTY_RECORD,
  };
}

/**
 * Collects the request headers of a CheckRequest, one at a time, the way Envoy's ext_authz
 * filter fills them: pseudo-headers and x-envoy-auth-partial-body are taken out, the first
 * x-request-id is remembered. Shared by mapCheckRequest and check-decoder.ts.
 */
export class HeaderCollector {
  readonly headers: Array<[string, string]> = [];
  requestId = '';
  authority = '';
  sawAuthority = false; // an empty Host still reaches the rules as an empty header
  pseudoMethod = '';
  pseudoPath = '';
  hasHost = false;
  bodyPartial = false;

  /**
   * One header: `key` as text, `value` as a byte string. Returns true when it is the first
   * x-request-id: the caller then sets `requestId` to its UTF-8 text.
   */
  add(key: string, value: string): boolean {
    if (key.charCodeAt(0) === 58 /* ':' */) {
      if (key === ':authority') {
        this.authority = value;
        this.sawAuthority = true;
      } else if (key === ':method') this.pseudoMethod = value;
      else if (key === ':path') this.pseudoPath = value;
      return false;
    }
    if (key === PARTIAL_BODY_HEADER) {
      this.bodyPartial = value === 'true';
      return false;
    }
    this.headers.push([toByteString(key), value]);
    if (key === 'host') this.hasHost = true;
    else if (key === 'x-request-id' && this.requestId === '') return true;
    return false;
  }
}

/** The scalar fields of attributes.request.http (byte strings unless noted), '' when unset. */
export interface HttpFields {
  method: string;
  /** http.host as UTF-8 text. */
  hostText: string;
  uri: string;
  /** http.id as UTF-8 text. */
  id: string;
  protocol: string;
  scheme: string;
  body: Buffer | null;
}

export interface AttributeFields {
  source: PeerInfo;
  destination: PeerInfo;
  contextExtensions: Readonly<Record<string, string>>;
  filterMetadata: Readonly<Record<string, unknown>>;
  sni: string;
}

/** Builds the engine request and context from the collected headers and fields. */
export function buildMappedCheck(h: HeaderCollector, f: HttpFields, a: AttributeFields): MappedCheck {
  const method = f.method || h.pseudoMethod;
  if (method === '') throw new CheckRequestError('CheckRequest.attributes.request.http.method is empty');
  const headers = h.headers;
  // http.host is Envoy's :authority (UTF-8 string); prefer it, the header is the fallback.
  let authority = h.authority;
  if (f.hostText) authority = toByteString(f.hostText);
  if (!h.hasHost && (authority !== '' || h.sawAuthority)) headers.unshift(['host', authority]);

  let uri = f.uri || h.pseudoPath;
  if (uri === '' && method === 'CONNECT') uri = authority; // CONNECT has no :path, the target is authority-form

  const requestId = h.requestId || f.id || randomUUID();
  const request: HttpRequest = {
    id: toByteString(requestId),
    method,
    uri,
    protocol: f.protocol || 'HTTP/1.1',
    headers,
    body: f.body,
    bodyPartial: h.bodyPartial,
    clientIp: a.source.address,
    clientPort: a.source.port,
    serverIp: a.destination.address,
    serverPort: a.destination.port,
  };
  const context: CheckContext = {
    requestId,
    host: f.hostText || (authority === '' ? '' : Buffer.from(authority, 'latin1').toString('utf8')),
    scheme: f.scheme,
    source: a.source,
    destination: a.destination,
    contextExtensions: a.contextExtensions,
    filterMetadata: a.filterMetadata,
    sni: a.sni,
  };
  return { request, context };
}

/**
 * Maps one decoded CheckRequest. Throws CheckRequestError when it lacks what every Envoy
 * sends (attributes.request.http with a method).
 */
export function mapCheckRequest(msg: CheckRequestMsg | null | undefined): MappedCheck {
  const attrs = msg?.attributes;
  if (!attrs) throw new CheckRequestError('CheckRequest.attributes is missing');
  const req = attrs.request;
  if (!req) throw new CheckRequestError('CheckRequest.attributes.request is missing');
  const http = req.http;
  if (!http) throw new CheckRequestError('CheckRequest.attributes.request.http is missing (only HTTP checks are supported)');

  const h = new HeaderCollector();
  const headerList = http.header_map?.headers;
  if (headerList && headerList.length > 0) {
    // encode_raw_headers: one entry per header line, value in raw_value (bytes).
    for (let i = 0; i < headerList.length; i++) {
      const hv = headerList[i]!;
      const raw = hv.raw_value;
      const hasRaw = raw !== null && raw.length > 0;
      if (h.add(hv.key, hasRaw ? raw.toString('latin1') : toByteString(hv.value))) h.requestId = hasRaw ? raw.toString('utf8') : hv.value;
    }
  } else if (http.headers) {
    const map = http.headers;
    for (const key in map) {
      const utf8 = map[key]!;
      if (h.add(key, toByteString(utf8))) h.requestId = utf8;
    }
  }

  let body: Buffer | null = null;
  const rawBody = http.raw_body;
  if (rawBody && rawBody.length > 0) body = rawBody;
  else if (http.body) body = Buffer.from(http.body, 'utf8');

  return buildMappedCheck(
    h,
    {
      method: toByteString(http.method || ''),
      hostText: http.host || '',
      uri: toByteString(http.path || ''),
      id: http.id || '',
      protocol: toByteString(http.protocol || ''),
      scheme: http.scheme || '',
      body,
    },
    {
      source: peerInfo(attrs.source),
      destination: peerInfo(attrs.destination),
      contextExtensions: attrs.context_extensions || EMPTY_RECORD,
      filterMetadata: attrs.metadata_context?.filter_metadata || EMPTY_RECORD,
      sni: attrs.tls_session?.sni || '',
    },
  );
}
