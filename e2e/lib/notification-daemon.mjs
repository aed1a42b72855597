// A desktop notification server for the tests: what a desktop's notification
// popup is to a browser, on a private D-Bus session bus of its own.
//
// Browsers on Linux show web notifications through the freedesktop.org
// Desktop Notifications interface (org.freedesktop.Notifications on the
// session bus) when a server owns that name, and learn that the user clicked
// one from its ActionInvoked signal. This module starts a private
// dbus-daemon, owns the name, records every Notify call and, on request,
// emits ActionInvoked exactly as a desktop does when the user clicks the
// notification or one of its buttons. The browser then runs its real click
// path: a trusted notificationclick event in the service worker, with the
// user activation that clients.openWindow() requires. No automation protocol
// offers that event; this is the closest to a user's click that runs
// headless.
//
// Only the parts of the D-Bus wire protocol this needs are implemented:
// EXTERNAL authentication, little-endian messages, and (un)marshalling of
// the basic, array, struct, dict-entry and variant types.

import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const NAME = 'org.freedesktop.Notifications';
const OBJECT = '/org/freedesktop/Notifications';

// ---------------------------------------------------------------------------
// Marshalling (little endian)
// ---------------------------------------------------------------------------

const ALIGN = { y: 1, b: 4, n: 2, q: 2, i: 4, u: 4, x: 8, t: 8, d: 8, h: 4, s: 4, o: 4, g: 1, a: 4, '(': 8, '{': 8, v: 1 };

/** Splits a signature into its complete types. */
function splitSignature(sig) {
  const out = [];
  let i = 0;
  while (i < sig.length) {
    const end = typeEnd(sig, i);
    out.push(sig.slice(i, end));
    i = end;
  }
  return out;
}

/** The index just past the complete type starting at sig[i]. */
function typeEnd(sig, i) {
  const c = sig[i];
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
  constructor() {
    this.buf = Buffer.alloc(256);
    this.len = 0;
  }
  ensure(n) {
    if (this.len + n <= this.buf.length) return;
    const b = Buffer.alloc(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(b, 0, 0, this.len);
    this.buf = b;
  }
  align(n) {
    const pad = (n - (this.len % n)) % n;
    this.ensure(pad);
    this.buf.fill(0, this.len, this.len + pad);
    this.len += pad;
  }
  write(type, v) {
    const c = type[0];
    this.align(ALIGN[c]);
    switch (c) {
      case 'y': this.ensure(1); this.buf.writeUInt8(v, this.len); this.len += 1; return;
      case 'b': case 'u': case 'h': this.ensure(4); this.buf.writeUInt32LE(c === 'b' ? (v ? 1 : 0) : v, this.len); this.len += 4; return;
      case 'i': this.ensure(4); this.buf.writeInt32LE(v, this.len); this.len += 4; return;
      case 'n': this.ensure(2); this.buf.writeInt16LE(v, this.len); this.len += 2; return;
      case 'q': this.ensure(2); this.buf.writeUInt16LE(v, this.len); this.len += 2; return;
      case 'x': this.ensure(8); this.buf.writeBigInt64LE(BigInt(v), this.len); this.len += 8; return;
      case 't': this.ensure(8); this.buf.writeBigUInt64LE(BigInt(v), this.len); this.len += 8; return;
      case 'd': this.ensure(8); this.buf.writeDoubleLE(v, this.len); this.len += 8; return;
      case 's': case 'o': {
        const b = Buffer.from(v, 'utf8');
        this.write('u', b.length);
        this.ensure(b.length + 1);
        b.copy(this.buf, this.len);
        this.buf[this.len + b.length] = 0;
        this.len += b.length + 1;
        return;
      }
      case 'g': {
        const b = Buffer.from(v, 'ascii');
        this.write('y', b.length);
        this.ensure(b.length + 1);
        b.copy(this.buf, this.len);
        this.buf[this.len + b.length] = 0;
        this.len += b.length + 1;
        return;
      }
      case 'v': {
        const [sig, value] = v;
        this.write('g', sig);
        this.write(sig, value);
        return;
      }
      case 'a': {
        const elem = type.slice(1);
        this.write('u', 0);
        const lenAt = this.len - 4;
        this.align(ALIGN[elem[0]]);
        const start = this.len;
        const items = elem[0] === '{' ? Object.entries(v) : v;
        for (const item of items) this.write(elem, item);
        this.buf.writeUInt32LE(this.len - start, lenAt);
        return;
      }
      case '(': case '{': {
        const inner = splitSignature(type.slice(1, -1));
        inner.forEach((t, k) => this.write(t, v[k]));
        return;
      }
      default:
        throw new Error(`cannot marshal type ${type}`);
    }
  }
  bytes() {
    return this.buf.subarray(0, this.len);
  }
}

class Reader {
  constructor(buf, pos = 0) {
    this.buf = buf;
    this.pos = pos;
  }
  align(n) {
    this.pos += (n - (this.pos % n)) % n;
  }
  read(type) {
    const c = type[0];
    this.align(ALIGN[c]);
    const b = this.buf;
    let v;
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
      case 's': case 'o': {
        const n = this.read('u');
        v = b.toString('utf8', this.pos, this.pos + n);
        this.pos += n + 1;
        return v;
      }
      case 'g': {
        const n = this.read('y');
        v = b.toString('ascii', this.pos, this.pos + n);
        this.pos += n + 1;
        return v;
      }
      case 'v': {
        const sig = this.read('g');
        return this.read(sig);
      }
      case 'a': {
        const n = this.read('u');
        const elem = type.slice(1);
        this.align(ALIGN[elem[0]]);
        const end = this.pos + n;
        if (elem[0] === '{') {
          const obj = {};
          while (this.pos < end) {
            const [k, val] = this.read(elem);
            obj[k] = val;
          }
          return obj;
        }
        if (elem === 'y') {
          v = b.subarray(this.pos, end);
          this.pos = end;
          return v;
        }
        const arr = [];
        while (this.pos < end) arr.push(this.read(elem));
        return arr;
      }
      case '(': case '{':
        return splitSignature(type.slice(1, -1)).map((t) => this.read(t));
      default:
        throw new Error(`cannot unmarshal type ${type}`);
    }
  }
}

const FIELD = { path: 1, interface: 2, member: 3, errorName: 4, replySerial: 5, destination: 6, sender: 7, signature: 8 };
const FIELD_TYPE = { 1: 'o', 2: 's', 3: 's', 4: 's', 5: 'u', 6: 's', 7: 's', 8: 'g', 9: 'u' };
const TYPE = { call: 1, return: 2, error: 3, signal: 4 };

function encodeMessage(type, serial, fields, signature = '', body = []) {
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
  const list = [];
  for (const [name, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    const code = FIELD[name];
    list.push([code, [FIELD_TYPE[code], value]]);
  }
  if (signature) list.push([FIELD.signature, ['g', signature]]);
  h.write('a(yv)', list);
  h.align(8);
  return Buffer.concat([h.bytes(), bodyBytes]);
}

/** Splits complete messages off the front of buf; returns [messages, rest]. */
function decodeMessages(buf) {
  const out = [];
  while (buf.length >= 16) {
    if (buf[0] !== 0x6c) throw new Error('only little-endian D-Bus messages are supported');
    const bodyLen = buf.readUInt32LE(4);
    const fieldsLen = buf.readUInt32LE(12);
    const headerLen = 16 + fieldsLen + ((8 - ((16 + fieldsLen) % 8)) % 8);
    const total = headerLen + bodyLen;
    if (buf.length < total) break;
    const msg = buf.subarray(0, total);
    const r = new Reader(msg, 12);
    const fields = {};
    for (const [code, value] of r.read('a(yv)')) {
      const name = Object.keys(FIELD).find((k) => FIELD[k] === code);
      if (name) fields[name] = value;
    }
    const body = fields.signature ? new Reader(msg.subarray(headerLen), 0) : null;
    out.push({
      type: buf[1],
      serial: buf.readUInt32LE(8),
      ...fields,
      body: body ? splitSignature(fields.signature).map((t) => body.read(t)) : [],
    });
    buf = buf.subarray(total);
  }
  return [out, buf];
}

// ---------------------------------------------------------------------------
// The daemon
// ---------------------------------------------------------------------------

/**
 * A notification server on a private session bus. Start it with
 * NotificationDaemon.start(); hand `address` to the browser as
 * DBUS_SESSION_BUS_ADDRESS; read `notifications`; call click().
 */
export class NotificationDaemon extends EventEmitter {
  /** Every notification shown, by id: { id, appName, summary, body, actions: {key: label}, hints, closed }. */
  notifications = new Map();

  static async start() {
    const d = new NotificationDaemon();
    await d.#start();
    return d;
  }

  #dir = '';
  #bus = null;
  #sock = null;
  #serial = 0;
  #pending = new Map();
  #nextId = 1;
  address = '';

  async #start() {
    this.#dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushstart-dbus-'));
    const socket = path.join(this.#dir, 'bus');
    const conf = path.join(this.#dir, 'session.conf');
    fs.writeFileSync(
      conf,
      `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=${socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`,
    );
    this.#bus = spawn('dbus-daemon', ['--config-file', conf, '--nofork', '--nopidfile', '--print-address'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.address = await new Promise((resolve, reject) => {
      let out = '';
      let err = '';
      this.#bus.stdout.on('data', (b) => {
        out += b;
        if (out.includes('\n')) resolve(out.trim().split('\n')[0]);
      });
      this.#bus.stderr.on('data', (b) => (err += b));
      this.#bus.once('error', reject);
      this.#bus.once('exit', (code) => reject(new Error(`dbus-daemon exited (${code}): ${err}`)));
    });
    await this.#connect(socket);
    await this.#call('org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus', 'Hello');
    const [reply] = await this.#call(
      'org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus', 'RequestName', 'su', [NAME, 4],
    );
    if (reply !== 1) throw new Error(`could not own ${NAME} (RequestName answered ${reply})`);
  }

  #connect(socket) {
    return new Promise((resolve, reject) => {
      const sock = net.connect(socket);
      this.#sock = sock;
      let buf = Buffer.alloc(0);
      let authed = false;
      sock.once('error', reject);
      sock.on('connect', () => {
        const uid = Buffer.from(String(process.getuid())).toString('hex');
        sock.write(Buffer.from([0]));
        sock.write(`AUTH EXTERNAL ${uid}\r\n`);
      });
      sock.on('data', (chunk) => {
        buf = Buffer.concat([buf, chunk]);
        if (!authed) {
          const nl = buf.indexOf('\r\n');
          if (nl < 0) return;
          const line = buf.subarray(0, nl).toString();
          buf = buf.subarray(nl + 2);
          if (!line.startsWith('OK ')) return reject(new Error(`D-Bus authentication failed: ${line}`));
          authed = true;
          sock.write('BEGIN\r\n');
          resolve();
        }
        let msgs;
        [msgs, buf] = decodeMessages(buf);
        for (const m of msgs) this.#onMessage(m);
      });
    });
  }

  #send(type, fields, signature, body) {
    const serial = ++this.#serial;
    this.#sock.write(encodeMessage(type, serial, fields, signature, body));
    return serial;
  }

  #call(destination, objPath, iface, member, signature = '', body = []) {
    const serial = this.#send(TYPE.call, { path: objPath, interface: iface, member, destination }, signature, body);
    return new Promise((resolve, reject) => this.#pending.set(serial, { resolve, reject }));
  }

  #reply(m, signature = '', body = []) {
    this.#send(TYPE.return, { replySerial: m.serial, destination: m.sender }, signature, body);
  }

  #signal(member, signature, body) {
    this.#send(TYPE.signal, { path: OBJECT, interface: NAME, member }, signature, body);
  }

  #onMessage(m) {
    if (m.type === TYPE.return || m.type === TYPE.error) {
      const p = this.#pending.get(m.replySerial);
      if (!p) return;
      this.#pending.delete(m.replySerial);
      if (m.type === TYPE.return) p.resolve(m.body);
      else p.reject(new Error(`${m.errorName}: ${m.body[0] ?? ''}`));
      return;
    }
    if (m.type !== TYPE.call) return;
    const key = `${m.interface ?? ''}.${m.member}`;
    switch (key) {
      case `${NAME}.GetCapabilities`:
        return this.#reply(m, 'as', [['actions', 'body', 'persistence']]);
      case `${NAME}.GetServerInformation`:
        return this.#reply(m, 'ssss', ['pushstart-e2e', 'pushstart', '1.0', '1.2']);
      case `${NAME}.Notify`: {
        const [appName, replacesId, appIcon, summary, body, actions, hints, timeout] = m.body;
        const id = replacesId || this.#nextId++;
        const acts = {};
        for (let k = 0; k + 1 < actions.length; k += 2) acts[actions[k]] = actions[k + 1];
        const n = { id, appName, appIcon, summary, body, actions: acts, hints: Object.keys(hints), timeout, closed: false };
        this.notifications.set(id, n);
        this.#reply(m, 'u', [id]);
        this.emit('notify', n);
        return;
      }
      case `${NAME}.CloseNotification`: {
        const [id] = m.body;
        this.#reply(m);
        this.#close(id, 3);
        return;
      }
      case 'org.freedesktop.DBus.Peer.Ping':
        return this.#reply(m);
      case 'org.freedesktop.DBus.Introspectable.Introspect':
        return this.#reply(m, 's', ['<node/>']);
      default:
        this.#send(
          TYPE.error,
          { replySerial: m.serial, destination: m.sender, errorName: 'org.freedesktop.DBus.Error.UnknownMethod' },
          's',
          [`unknown method ${key}`],
        );
    }
  }

  #close(id, reason) {
    const n = this.notifications.get(id);
    if (!n || n.closed) return;
    n.closed = true;
    this.#signal('NotificationClosed', 'uu', [id, reason]);
  }

  /** The open notifications whose summary (title) is title. */
  find(title) {
    return [...this.notifications.values()].filter((n) => n.summary === title && !n.closed);
  }

  /**
   * Does what a desktop does when the user clicks notification id: emits
   * ActionInvoked with the action key ("default" for the notification
   * itself, or one of the keys the browser listed), then closes it as
   * dismissed by the user.
   */
  click(id, action = 'default') {
    const n = this.notifications.get(id);
    if (!n) throw new Error(`no notification ${id}`);
    if (!(action in n.actions)) {
      throw new Error(`notification ${id} has no action "${action}"; it has ${JSON.stringify(n.actions)}`);
    }
    this.#signal('ActionInvoked', 'us', [id, action]);
    this.#close(id, 2);
  }

  async stop() {
    this.#sock?.destroy();
    if (this.#bus && this.#bus.exitCode === null) {
      this.#bus.kill('SIGTERM');
      await new Promise((r) => this.#bus.once('exit', r));
    }
    fs.rmSync(this.#dir, { recursive: true, force: true });
  }
}
