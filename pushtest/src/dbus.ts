// The parts of the D-Bus wire protocol a notification server needs:
// little-endian messages and the (un)marshalling of the basic, array,
// struct, dict-entry and variant types. Authentication and the connection
// are the notification server's (notifications.ts).

/** A value as marshalled: numbers, strings, booleans, arrays, objects (dicts), [signature, value] for a variant. */
export type Value = unknown;

const ALIGN: Record<string, number> = {
  y: 1, b: 4, n: 2, q: 2, i: 4, u: 4, x: 8, t: 8, d: 8, h: 4, s: 4, o: 4, g: 1, a: 4, '(': 8, '{': 8, v: 1,
};

function alignOf(type: string): number {
  const n = ALIGN[type[0]];
  if (n === undefined) throw new Error(`unsupported D-Bus type ${type}`);
  return n;
}

/** Splits a signature into its complete types. */
export function splitSignature(sig: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < sig.length) {
    const end = typeEnd(sig, i);
    out.push(sig.slice(i, end));
    i = end;
  }
  return out;
}

/** The index just past the complete type starting at sig[i]. */
function typeEnd(sig: string, i: number): number {
  const c = sig[i];
  if (c === undefined) throw new Error(`truncated signature ${sig}`);
  if (c === 'a') return typeEnd(sig, i + 1);
  if (c === '(' || c === '{') {
    const close = c === '(' ? ')' : '}';
    let depth = 0;
    for (let j = i; j < sig.length; j++) {
      if (sig[j] === c) depth++;
      else if (sig[j] === close && --depth === 0) return j + 1;
    }
    throw new Error(`unbalanced signature ${sig}`);
  }
  return i + 1;
}

class Writer {
  private buf = Buffer.alloc(256);
  private len = 0;

  private ensure(n: number) {
    if (this.len + n <= this.buf.length) return;
    const b = Buffer.alloc(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(b, 0, 0, this.len);
    this.buf = b;
  }

  align(n: number) {
    const pad = (n - (this.len % n)) % n;
    this.ensure(pad);
    this.buf.fill(0, this.len, this.len + pad);
    this.len += pad;
  }

  write(type: string, v: Value): void {
    const c = type[0];
    this.align(alignOf(type));
    switch (c) {
      case 'y': this.ensure(1); this.buf.writeUInt8(v as number, this.len); this.len += 1; return;
      case 'b': this.ensure(4); this.buf.writeUInt32LE(v ? 1 : 0, this.len); this.len += 4; return;
      case 'u': case 'h': this.ensure(4); this.buf.writeUInt32LE(v as number, this.len); this.len += 4; return;
      case 'i': this.ensure(4); this.buf.writeInt32LE(v as number, this.len); this.len += 4; return;
      case 'n': this.ensure(2); this.buf.writeInt16LE(v as number, this.len); this.len += 2; return;
      case 'q': this.ensure(2); this.buf.writeUInt16LE(v as number, this.len); this.len += 2; return;
      case 'x': this.ensure(8); this.buf.writeBigInt64LE(BigInt(v as number), this.len); this.len += 8; return;
      case 't': this.ensure(8); this.buf.writeBigUInt64LE(BigInt(v as number), this.len); this.len += 8; return;
      case 'd': this.ensure(8); this.buf.writeDoubleLE(v as number, this.len); this.len += 8; return;
      case 's': case 'o': case 'g': {
        const b = Buffer.from(v as string, c === 'g' ? 'ascii' : 'utf8');
        this.write(c === 'g' ? 'y' : 'u', b.length);
        this.ensure(b.length + 1);
        b.copy(this.buf, this.len);
        this.buf[this.len + b.length] = 0;
        this.len += b.length + 1;
        return;
      }
      case 'v': {
        const [sig, value] = v as [string, Value];
        this.write('g', sig);
        this.write(sig, value);
        return;
      }
      case 'a': {
        const elem = type.slice(1);
        this.write('u', 0);
        const lenAt = this.len - 4;
        this.align(alignOf(elem));
        const start = this.len;
        const items = elem[0] === '{' ? Object.entries(v as Record<string, Value>) : (v as Value[]);
        for (const item of items) this.write(elem, item);
        this.buf.writeUInt32LE(this.len - start, lenAt);
        return;
      }
      case '(': case '{': {
        const fields = v as Value[];
        splitSignature(type.slice(1, -1)).forEach((t, k) => this.write(t, fields[k]));
        return;
      }
      default:
        throw new Error(`cannot marshal D-Bus type ${type}`);
    }
  }

  bytes(): Buffer {
    return this.buf.subarray(0, this.len);
  }
}

class Reader {
  constructor(
    private readonly buf: Buffer,
    private pos = 0,
  ) {}

  private align(n: number) {
    this.pos += (n - (this.pos % n)) % n;
  }

  read(type: string): Value {
    const c = type[0];
    this.align(alignOf(type));
    const b = this.buf;
    let v: Value;
    switch (c) {
      case 'y': v = b.readUInt8(this.pos); this.pos += 1; return v;
      case 'b': v = b.readUInt32LE(this.pos) !== 0; this.pos += 4; return v;
      case 'u': case 'h': v = b.readUInt32LE(this.pos); this.pos += 4; return v;
      case 'i': v = b.readInt32LE(this.pos); this.pos += 4; return v;
      case 'n': v = b.readInt16LE(this.pos); this.pos += 2; return v;
      case 'q': v = b.readUInt16LE(this.pos); this.pos += 2; return v;
      case 'x': v = b.readBigInt64LE(this.pos); this.pos += 8; return v;
      case 't': v = b.readBigUInt64LE(this.pos); this.pos += 8; return v;
      case 'd': v = b.readDoubleLE(this.pos); this.pos += 8; return v;
      case 's': case 'o': case 'g': {
        const n = this.read(c === 'g' ? 'y' : 'u') as number;
        v = b.toString(c === 'g' ? 'ascii' : 'utf8', this.pos, this.pos + n);
        this.pos += n + 1;
        return v;
      }
      case 'v':
        return this.read(this.read('g') as string);
      case 'a': {
        const n = this.read('u') as number;
        const elem = type.slice(1);
        this.align(alignOf(elem));
        const end = this.pos + n;
        if (end > b.length) throw new Error('D-Bus array runs past its message');
        if (elem[0] === '{') {
          const obj: Record<string, Value> = {};
          while (this.pos < end) {
            const [k, val] = this.read(elem) as [string, Value];
            obj[k] = val;
          }
          return obj;
        }
        if (elem === 'y') {
          v = b.subarray(this.pos, end);
          this.pos = end;
          return v;
        }
        const arr: Value[] = [];
        while (this.pos < end) arr.push(this.read(elem));
        return arr;
      }
      case '(': case '{':
        return splitSignature(type.slice(1, -1)).map((t) => this.read(t));
      default:
        throw new Error(`cannot unmarshal D-Bus type ${type}`);
    }
  }
}

/** Header fields by their codes. */
const FIELD = { path: 1, interface: 2, member: 3, errorName: 4, replySerial: 5, destination: 6, sender: 7, signature: 8 } as const;
const FIELD_TYPE: Record<number, string> = { 1: 'o', 2: 's', 3: 's', 4: 's', 5: 'u', 6: 's', 7: 's', 8: 'g', 9: 'u' };

/** Message types. */
export const TYPE = { call: 1, return: 2, error: 3, signal: 4 } as const;

/** A message's header fields, by name. */
export type Fields = {
  path?: string;
  interface?: string;
  member?: string;
  errorName?: string;
  replySerial?: number;
  destination?: string;
  sender?: string;
  signature?: string;
};

/** A decoded message: its type, serial, header fields and body values. */
export type Message = Fields & { type: number; serial: number; body: Value[] };

/** Encodes one little-endian message. */
export function encodeMessage(type: number, serial: number, fields: Fields, signature = '', body: Value[] = []): Buffer {
  const bodyW = new Writer();
  splitSignature(signature).forEach((t, k) => bodyW.write(t, body[k]));
  const bodyBytes = bodyW.bytes();
  const h = new Writer();
  h.write('y', 'l'.charCodeAt(0));
  h.write('y', type);
  h.write('y', 0);
  h.write('y', 1);
  h.write('u', bodyBytes.length);
  h.write('u', serial);
  const list: Array<[number, [string, Value]]> = [];
  for (const [name, value] of Object.entries(fields)) {
    if (value === undefined || name === 'signature') continue;
    const code = FIELD[name as keyof typeof FIELD];
    list.push([code, [FIELD_TYPE[code], value]]);
  }
  if (signature) list.push([FIELD.signature, ['g', signature]]);
  h.write('a(yv)', list);
  h.align(8);
  return Buffer.concat([h.bytes(), bodyBytes]);
}

/** Splits the complete messages off the front of buf; returns them and the rest. */
export function decodeMessages(buf: Buffer): [Message[], Buffer] {
  const out: Message[] = [];
  while (buf.length >= 16) {
    if (buf[0] !== 0x6c) throw new Error('only little-endian D-Bus messages are supported');
    const bodyLen = buf.readUInt32LE(4);
    const fieldsLen = buf.readUInt32LE(12);
    const headerLen = 16 + fieldsLen + ((8 - ((16 + fieldsLen) % 8)) % 8);
    const total = headerLen + bodyLen;
    if (buf.length < total) break;
    const msg = buf.subarray(0, total);
    const r = new Reader(msg, 12);
    const fields: Record<string, Value> = {};
    for (const [code, value] of r.read('a(yv)') as Array<[number, Value]>) {
      const name = (Object.keys(FIELD) as Array<keyof typeof FIELD>).find((k) => FIELD[k] === code);
      if (name) fields[name] = value;
    }
    const signature = fields.signature as string | undefined;
    const body = new Reader(msg.subarray(headerLen), 0);
    out.push({
      ...(fields as Fields),
      type: buf[1],
      serial: buf.readUInt32LE(8),
      body: signature ? splitSignature(signature).map((t) => body.read(t)) : [],
    });
    buf = buf.subarray(total);
  }
  return [out, buf];
}
