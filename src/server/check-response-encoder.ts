// CheckResponse objects (check-service.ts' CheckResponseObj) → protobuf wire bytes, as the Check
// method's response serializer: the counterpart of check-decoder.ts. protobufjs' serializer runs
// fromObject (a new message tree) and then encode for every response; this computes the sizes and
// writes one Buffer. Decoding its output gives what protobufjs' own encoding decodes to
// (test/check-response-encoder.test.ts compares both on generated responses).
//
// Field numbers (envoy.service.auth.v3 / google.rpc / google.protobuf, proto/):
//   CheckResponse { Status status = 1; DeniedHttpResponse denied_response = 2; OkHttpResponse ok_response = 3; Struct dynamic_metadata = 4 }
//   Status { int32 code = 1; string message = 2 }
//   DeniedHttpResponse { HttpStatus status = 1; repeated HeaderValueOption headers = 2; string body = 3 }
//   HttpStatus { StatusCode code = 1 }
//   HeaderValueOption { HeaderValue header = 1; HeaderAppendAction append_action = 3 }
//   HeaderValue { string key = 1; string value = 2 }
//   Struct { map<string, Value> fields = 1 }  (entry: key = 1, value = 2)
//   Value { double number_value = 2; string string_value = 3; bool bool_value = 4; Struct struct_value = 5; ListValue list_value = 6 }
//   ListValue { repeated Value values = 1 }
import type { CheckResponseObj, HeaderValueOptionObj, StructValue } from './check-service.js';

const APPEND_ACTIONS: Record<HeaderValueOptionObj['append_action'], number> = {
  APPEND_IF_EXISTS_OR_ADD: 0,
  ADD_IF_ABSENT: 1,
  OVERWRITE_IF_EXISTS_OR_ADD: 2,
  OVERWRITE_IF_EXISTS: 3,
};

// ---- sizes ----

function varintSize(n: number): number {
  if (n < 0) return 10; // negative int32: sign-extended to 64 bits
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

/** A length-delimited field (one-byte tag) whose payload is `len` bytes. */
const lenField = (len: number): number => 1 + varintSize(len) + len;
const strField = (s: string): number => lenField(Buffer.byteLength(s, 'utf8'));

function valueSize(v: StructValue): number {
  if (v.numberValue !== undefined) return 9;
  if (v.stringValue !== undefined) return strField(v.stringValue);
  if (v.boolValue !== undefined) return 2;
  if (v.listValue !== undefined) return lenField(listSize(v.listValue.values));
  if (v.structValue !== undefined) return lenField(structSize(v.structValue.fields));
  return 0; // no kind set: an empty Value
}

function listSize(values: readonly StructValue[]): number {
  let n = 0;
  for (let i = 0; i < values.length; i++) n += lenField(valueSize(values[i]!));
  return n;
}

function entrySize(key: string, v: StructValue): number {
  return strField(key) + lenField(valueSize(v));
}

function structSize(fields: Readonly<Record<string, StructValue>>): number {
  let n = 0;
  for (const key in fields) n += lenField(entrySize(key, fields[key]!));
  return n;
}

function statusSize(code: number, message: string): number {
  return (code !== 0 ? 1 + varintSize(code) : 0) + (message !== '' ? strField(message) : 0);
}

function headerSize(h: HeaderValueOptionObj): number {
  const hv = strField(h.header.key) + strField(h.header.value);
  const action = APPEND_ACTIONS[h.append_action] ?? 0;
  return lenField(hv) + (action !== 0 ? 2 : 0);
}

function deniedSize(d: NonNullable<CheckResponseObj['denied_response']>): number {
  const code = d.status.code;
  let n = lenField(code !== 0 ? 1 + varintSize(code) : 0);
  for (let i = 0; i < d.headers.length; i++) n += lenField(headerSize(d.headers[i]!));
  if (d.body !== '') n += strField(d.body);
  return n;
}

// ---- writer ----

class Writer {
  pos = 0;
  constructor(readonly buf: Buffer) {}

  varint(n: number): void {
    if (n < 0) {
      // A negative int32: two's complement over 64 bits (ten bytes), as protobuf requires.
      let v = BigInt.asUintN(64, BigInt(n));
      while (v >= 0x80n) {
        this.buf[this.pos++] = Number(v & 0x7fn) | 0x80;
        v >>= 7n;
      }
      this.buf[this.pos++] = Number(v);
      return;
    }
    while (n >= 0x80) {
      this.buf[this.pos++] = (n % 128) | 0x80;
      n = Math.floor(n / 128);
    }
    this.buf[this.pos++] = n;
  }

  tag(field: number, wire: number): void {
    this.buf[this.pos++] = (field << 3) | wire;
  }

  str(field: number, s: string): void {
    this.tag(field, 2);
    this.varint(Buffer.byteLength(s, 'utf8'));
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }

  len(field: number, len: number): void {
    this.tag(field, 2);
    this.varint(len);
  }
}

function writeValue(w: Writer, v: StructValue): void {
  if (v.numberValue !== undefined) {
    w.tag(2, 1);
    w.buf.writeDoubleLE(v.numberValue, w.pos);
    w.pos += 8;
  } else if (v.stringValue !== undefined) w.str(3, v.stringValue);
  else if (v.boolValue !== undefined) {
    w.tag(4, 0);
    w.buf[w.pos++] = v.boolValue ? 1 : 0;
  } else if (v.listValue !== undefined) {
    const values = v.listValue.values;
    w.len(6, listSize(values));
    for (let i = 0; i < values.length; i++) {
      w.len(1, valueSize(values[i]!));
      writeValue(w, values[i]!);
    }
  } else if (v.structValue !== undefined) {
    w.len(5, structSize(v.structValue.fields));
    writeStruct(w, v.structValue.fields);
  }
}

function writeStruct(w: Writer, fields: Readonly<Record<string, StructValue>>): void {
  for (const key in fields) {
    const v = fields[key]!;
    w.len(1, entrySize(key, v));
    w.str(1, key);
    w.len(2, valueSize(v));
    writeValue(w, v);
  }
}

function writeStatus(w: Writer, code: number, message: string): void {
  if (code !== 0) {
    w.tag(1, 0);
    w.varint(code);
  }
  if (message !== '') w.str(2, message);
}

/** The Check response serializer: wire bytes of one CheckResponse. */
export function encodeCheckResponse(r: CheckResponseObj): Buffer {
  const status = r.status;
  const statusLen = statusSize(status.code, status.message);
  const denied = r.denied_response;
  const deniedLen = denied === undefined ? 0 : deniedSize(denied);
  const fields = r.dynamic_metadata.fields;
  const metadataLen = structSize(fields);
  const total = lenField(statusLen) + (denied !== undefined ? lenField(deniedLen) : 0) + (r.ok_response !== undefined ? lenField(0) : 0) + lenField(metadataLen);

  const w = new Writer(Buffer.allocUnsafe(total));
  w.len(1, statusLen);
  writeStatus(w, status.code, status.message);
  if (denied !== undefined) {
    w.len(2, deniedLen);
    const code = denied.status.code;
    w.len(1, code !== 0 ? 1 + varintSize(code) : 0);
    if (code !== 0) {
      w.tag(1, 0);
      w.varint(code);
    }
    for (let i = 0; i < denied.headers.length; i++) {
      const h = denied.headers[i]!;
      w.len(2, headerSize(h));
      w.len(1, strField(h.header.key) + strField(h.header.value));
      w.str(1, h.header.key);
      w.str(2, h.header.value);
      const action = APPEND_ACTIONS[h.append_action] ?? 0;
      if (action !== 0) {
        w.tag(3, 0);
        w.varint(action);
      }
    }
    if (denied.body !== '') w.str(3, denied.body);
  }
  if (r.ok_response !== undefined) w.len(3, 0);
  w.len(4, metadataLen);
  writeStruct(w, fields);
  if (w.pos !== total) throw new Error(`CheckResponse encoder: wrote ${w.pos} bytes, sized ${total}`);
  return w.buf;
}
