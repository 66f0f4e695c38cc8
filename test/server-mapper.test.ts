// CheckRequest → engine HttpRequest mapping, on messages decoded exactly as the server
// decodes them (serialized by protobufjs, then deserialized with the server's loader options).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CheckRequestError, mapCheckRequest, toByteString, type CheckRequestMsg } from '../src/server/check-mapper.js';
import { loadProtos } from '../src/server/proto.js';
import { buildCheckRequest, type RequestSpec } from './helpers/check-client.js';

/** Round-trips a CheckRequest object through the wire format, like the server receives it. */
function decode(message: unknown): CheckRequestMsg {
  const method = loadProtos().authorization.Check!;
  return method.requestDeserialize(method.requestSerialize(message)) as CheckRequestMsg;
}

function map(spec: RequestSpec) {
  return mapCheckRequest(decode(buildCheckRequest(spec)));
}

function headerValues(headers: Array<[string, string]>, name: string): string[] {
  return headers.filter(([k]) => k === name).map(([, v]) => v);
}

describe('check-mapper', () => {
  test('basic fields: method, raw uri, protocol, addresses, request id', () => {
    const { request, context } = map({
      method: 'POST',
      path: '/a%20b/c?x=%27&y=1',
      protocol: 'HTTP/2',
      requestId: 'rid-123',
      source: { address: '192.0.2.10', port: 51234, principal: 'spiffe://cluster.local/ns/a/sa/b' },
      destination: { address: '10.0.0.5', port: 8443 },
      contextExtensions: { namespace: 'shop' },
    });
    assert.equal(request.method, 'POST');
    assert.equal(request.uri, '/a%20b/c?x=%27&y=1', 'path is never decoded');
    assert.equal(request.protocol, 'HTTP/2');
    assert.equal(request.id, 'rid-123');
    assert.equal(request.clientIp, '192.0.2.10');
    assert.equal(request.clientPort, 51234);
    assert.equal(request.serverIp, '10.0.0.5');
    assert.equal(request.serverPort, 8443);
    assert.equal(request.body, null);
    assert.equal(request.bodyPartial, false);
    assert.equal(context.requestId, 'rid-123');
    assert.equal(context.source.principal, 'spiffe://cluster.local/ns/a/sa/b');
    assert.deepEqual({ ...context.contextExtensions }, { namespace: 'shop' });
  });

  test('pseudo-headers are excluded; :authority becomes the host header', () => {
    const { request, context } = map({ host: 'shop.example:8080', headers: { 'User-Agent': 'curl/8', Accept: '*/*' } });
    for (const [name] of request.headers) assert.ok(!name.startsWith(':'), `pseudo-header ${name} leaked`);
    assert.deepEqual(headerValues(request.headers, 'host'), ['shop.example:8080']);
    assert.deepEqual(headerValues(request.headers, 'user-agent'), ['curl/8']);
    assert.equal(context.host, 'shop.example:8080');
  });

  test('an explicit host header is kept and not duplicated', () => {
    const msg = decode(buildCheckRequest({ host: 'a.example' }));
    msg.attributes!.request!.http!.headers!['host'] = 'b.example';
    const { request } = mapCheckRequest(msg);
    assert.deepEqual(headerValues(request.headers, 'host'), ['b.example']);
  });

  test('host falls back to :authority when http.host is empty', () => {
    const msg = decode(buildCheckRequest({ host: 'fallback.example' }));
    msg.attributes!.request!.http!.host = '';
    const { request } = mapCheckRequest(msg);
    assert.deepEqual(headerValues(request.headers, 'host'), ['fallback.example']);
  });

  test('headers map: Envoy-merged repeated headers stay one comma-joined value', () => {
    const { request } = map({ headers: { 'X-Multi': ['one', 'two'] } });
    assert.deepEqual(headerValues(request.headers, 'x-multi'), ['one,two']);
  });

  test('header_map (encode_raw_headers): repeated headers stay separate, raw_value bytes used', () => {
    const { request } = map({ rawHeaders: true, host: 'raw.example', headers: { 'X-Multi': ['one', 'two'], 'x-bin': '\xff\xfe' } });
    assert.deepEqual(headerValues(request.headers, 'x-multi'), ['one', 'two']);
    assert.deepEqual(headerValues(request.headers, 'x-bin'), ['\xff\xfe'], 'raw bytes → one char per byte');
    assert.deepEqual(headerValues(request.headers, 'host'), ['raw.example']);
    for (const [name] of request.headers) assert.ok(!name.startsWith(':'));
  });

  test('header_map wins over headers when both are present; value used when raw_value is empty', () => {
    const msg = buildCheckRequest({ headers: { 'x-from-map': 'map' } }) as any;
    msg.attributes.request.http.header_map = {
      headers: [
        { key: ':authority', value: 'hm.example' },
        { key: 'x-from-header-map', value: 'caf\u00e9' },
      ],
    };
    const { request } = mapCheckRequest(decode(msg));
    assert.deepEqual(headerValues(request.headers, 'x-from-map'), []);
    assert.deepEqual(headerValues(request.headers, 'x-from-header-map'), ['caf\xc3\xa9'], 'UTF-8 value → latin1 bytes');
  });

  test('UTF-8 strings become byte strings (latin1, one char per byte)', () => {
    const { request } = map({ path: '/caf\u00e9?q=\u65e5\u672c', headers: { 'x-name': '\u00fcber' } });
    assert.equal(request.uri, '/caf\xc3\xa9?q=\xe6\x97\xa5\xe6\x9c\xac');
    assert.deepEqual(headerValues(request.headers, 'x-name'), ['\xc3\xbcber']);
    assert.equal(toByteString('plain ascii'), 'plain ascii');
    assert.equal(toByteString('\u20ac'), '\xe2\x82\xac');
  });

  test('body: string body → UTF-8 bytes; raw_body bytes kept as is', () => {
    const text = map({ method: 'POST', body: 'a=\u00e9' });
    assert.ok(Buffer.isBuffer(text.request.body));
    assert.deepEqual([...text.request.body!], [0x61, 0x3d, 0xc3, 0xa9]);
    const bytes = map({ method: 'POST', body: Buffer.from([0x00, 0xff, 0x80, 0x41]), packAsBytes: true });
    assert.deepEqual([...bytes.request.body!], [0x00, 0xff, 0x80, 0x41]);
  });

  test('raw_body wins over body when non-empty', () => {
    const msg = buildCheckRequest({ method: 'POST', body: 'string-body' }) as any;
    msg.attributes.request.http.raw_body = Buffer.from('raw-body');
    assert.equal(mapCheckRequest(decode(msg)).request.body!.toString(), 'raw-body');
  });

  test('x-envoy-auth-partial-body: true → bodyPartial; the header itself is not passed on', () => {
    const partial = map({ method: 'POST', body: 'abc', partialBody: true });
    assert.equal(partial.request.bodyPartial, true);
    assert.deepEqual(headerValues(partial.request.headers, 'x-envoy-auth-partial-body'), []);
    const whole = map({ method: 'POST', body: 'abc' });
    assert.equal(whole.request.bodyPartial, false);
    const rawPartial = map({ method: 'POST', body: 'abc', partialBody: true, rawHeaders: true });
    assert.equal(rawPartial.request.bodyPartial, true);
  });

  test('request id: x-request-id header, else http.id, else generated', () => {
    assert.equal(map({ requestId: 'from-header' }).request.id, 'from-header');
    const noHeader = decode(buildCheckRequest({ requestId: null }));
    noHeader.attributes!.request!.http!.id = '4242';
    assert.equal(mapCheckRequest(noHeader).request.id, '4242');
    noHeader.attributes!.request!.http!.id = '';
    const a = mapCheckRequest(noHeader).request.id;
    const b = mapCheckRequest(noHeader).request.id;
    assert.match(a, /^[0-9a-f-]{36}$/);
    assert.notEqual(a, b);
  });

  test('protocol defaults to HTTP/1.1 when Envoy leaves it empty', () => {
    assert.equal(map({ protocol: '' }).request.protocol, 'HTTP/1.1');
  });

  test('malformed requests throw CheckRequestError', () => {
    assert.throws(() => mapCheckRequest(decode({})), CheckRequestError);
    assert.throws(() => mapCheckRequest(decode({ attributes: {} })), /attributes\.request is missing/);
    assert.throws(() => mapCheckRequest(decode({ attributes: { request: {} } })), /request\.http is missing/);
    assert.throws(
      () => mapCheckRequest(decode({ attributes: { request: { http: { path: '/' } } } })),
      /method is empty/,
    );
    assert.throws(() => mapCheckRequest(null), CheckRequestError);
  });

  test('missing peers map to empty addresses', () => {
    const { request, context } = mapCheckRequest(decode({ attributes: { request: { http: { method: 'GET', path: '/' } } } }));
    assert.equal(request.clientIp, '');
    assert.equal(request.clientPort, 0);
    assert.equal(context.source.principal, '');
    assert.deepEqual(request.headers, []);
  });
});
