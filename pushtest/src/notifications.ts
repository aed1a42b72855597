// A desktop notification server for tests: what a desktop's notification
// popup is to a browser, on a private D-Bus session bus of its own.
//
// Browsers on Linux show web notifications through the freedesktop.org
// Desktop Notifications interface (org.freedesktop.Notifications on the
// session bus) when a server owns that name, and learn that the user clicked
// one from its ActionInvoked signal. NotificationServer starts a private
// dbus-daemon, owns the name, records every Notify call and, on request,
// emits ActionInvoked exactly as a desktop does when the user clicks the
// notification or one of its buttons. The browser then runs its real click
// path: a trusted notificationclick event in the service worker, with the
// user activation that clients.openWindow() requires. No automation protocol
// offers that event; this is the closest to a user's click that runs
// headless.

import { type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { TYPE, decodeMessages, encodeMessage, type Fields, type Message, type Value } from './dbus.js';
import { CANNOT_RUN, endTethered, spawnTethered } from './tether.js';

const NAME = 'org.freedesktop.Notifications';
const OBJECT = '/org/freedesktop/Notifications';

/** NotificationClosed reasons of the Desktop Notifications specification. */
const CLOSED_BY_USER = 2;
const CLOSED_BY_CALL = 3;

/** A notification the browser showed through the server, as the desktop got it. */
export type ShownNotification = {
  /** The server's id for it (a replacement keeps the id of the one it replaces). */
  id: number;
  /** The application that showed it, as the browser names itself (e.g. "Chromium", "Firefox"). */
  appName: string;
  /** The notification's title (the specification's "summary"). */
  title: string;
  /** Its body, as the browser passed it (it may add the origin). */
  body: string;
  /**
   * What the desktop may offer to click, in the browser's order: its own
   * "default" entry (a click on the body) and one per action of the
   * notification, whose key is the browser's own, not the action's name.
   */
  actions: Array<{ action: string; title: string }>;
  /** The hints the browser sent (urgency, desktop-entry, image-data, …), decoded. */
  hints: Record<string, unknown>;
  /** Whether it was closed: by the browser, or by click or close here. */
  closed: boolean;
};

/**
 * A desktop notification server (org.freedesktop.Notifications) on a private
 * D-Bus session bus: the browser shows notifications through it and a test
 * clicks them (a real notificationclick, with user activation). Needs
 * dbus-daemon; Firefox also needs libnotify.so.4. Hand it to launchBrowser's
 * `notifications` option.
 *
 * @example
 * const server = await NotificationServer.start();
 * const { context } = await launchChromium(chromium, service, { grant: [appURL], notifications: server });
 * // … subscribe, push …
 * const n = await server.waitFor('Order shipped');
 * server.click(n); // the worker's notificationclick runs
 * await server.stop();
 */
export class NotificationServer {
  /** The bus address to hand a browser as DBUS_SESSION_BUS_ADDRESS. */
  readonly address: string;
  /** Every notification shown so far, in order of first showing, closed ones included. */
  readonly shown: ShownNotification[] = [];

  /** The watchdog of the bus's dbus-daemon (see tether.ts). */
  private readonly bus: ChildProcess;
  private sock: net.Socket | null = null;
  private serial = 0;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (body: Value[]) => void; reject: (e: Error) => void }>();
  private readonly waiters = new Set<() => void>();

  private constructor(bus: ChildProcess, address: string) {
    this.bus = bus;
    this.address = address;
  }

  /**
   * Starts a private dbus-daemon and owns org.freedesktop.Notifications on
   * it. The bus and its folder end with this process however it ends,
   * SIGKILL included.
   */
  static async start(): Promise<NotificationServer> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushtest-dbus-'));
    const socket = path.join(dir, 'bus');
    const conf = path.join(dir, 'session.conf');
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
    const bus = spawnTethered('dbus-daemon', ['--config-file', conf, '--nofork', '--nopidfile', '--print-address'], { dir });
    let server: NotificationServer | undefined;
    try {
      const address = await new Promise<string>((resolve, reject) => {
        let out = '';
        let err = '';
        bus.stdout!.on('data', (b) => {
          out += b;
          if (out.includes('\n')) resolve(out.trim().split('\n')[0]);
        });
        bus.stderr!.on('data', (b) => (err += b));
        bus.once('error', (e) => reject(new Error(`NotificationServer: cannot start node for its watchdog (${e.message})`)));
        // 'close', not 'exit': what it printed on stderr is read by then.
        bus.once('close', (code) =>
          reject(
            new Error(
              code === CANNOT_RUN
                ? `NotificationServer: cannot run dbus-daemon (${err.trim()}); on Debian/Ubuntu: apt-get install dbus`
                : `NotificationServer: dbus-daemon exited (${code}): ${err}`,
            ),
          ),
        );
      });
      server = new NotificationServer(bus, address);
      await server.connect(socket);
      await server.call('org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus', 'Hello');
      const [reply] = await server.call(
        'org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus', 'RequestName', 'su', [NAME, 4],
      );
      if (reply !== 1) throw new Error(`NotificationServer: could not own ${NAME} (RequestName answered ${reply})`);
      return server;
    } catch (e) {
      if (server) await server.stop();
      else await endTethered(bus);
      fs.rmSync(dir, { recursive: true, force: true });
      throw e;
    }
  }

  /**
   * Waits until a notification that matches is shown and still open, and
   * returns it: one already shown counts. match is a title, or a predicate.
   * Throws after timeout ms (default 15000), naming what was shown instead.
   */
  waitFor(match: string | ((n: ShownNotification) => boolean), opts: { timeout?: number } = {}): Promise<ShownNotification> {
    const timeout = opts.timeout ?? 15_000;
    const test = typeof match === 'string' ? (n: ShownNotification) => n.title === match : match;
    const find = () => this.shown.find((n) => !n.closed && test(n));
    const found = find();
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const check = () => {
        const n = find();
        if (!n) return;
        this.waiters.delete(check);
        clearTimeout(timer);
        resolve(n);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        const what = typeof match === 'string' ? `titled ${JSON.stringify(match)}` : 'matching the predicate';
        const seen = this.shown.map((n) => `  #${n.id} ${JSON.stringify(n.title)}${n.closed ? ' (closed)' : ''}`);
        reject(
          new Error(
            `NotificationServer: no open notification ${what} within ${timeout} ms; ` +
              (seen.length ? `shown:\n${seen.join('\n')}` : 'none was shown (is the browser on this server\'s bus?)'),
          ),
        );
      }, timeout);
      this.waiters.add(check);
    });
  }

  /**
   * Does what a desktop does when the user clicks notification n: emits
   * ActionInvoked with the action key ("default" for the notification
   * itself, or one of the keys in n.actions), then closes it as dismissed by
   * the user. Throws if n is unknown or has no such action.
   */
  click(n: ShownNotification | number, action = 'default'): void {
    const shown = this.get(n);
    if (!shown.actions.some((a) => a.action === action)) {
      throw new Error(`NotificationServer: notification #${shown.id} has no action "${action}"; it has ${JSON.stringify(shown.actions)}`);
    }
    this.signal('ActionInvoked', 'us', [shown.id, action]);
    this.closeWith(shown.id, CLOSED_BY_USER);
  }

  /** Closes notification n as the user dismissing it does (NotificationClosed, reason 2). */
  close(n: ShownNotification | number): void {
    this.closeWith(this.get(n).id, CLOSED_BY_USER);
  }

  /** Stops the bus; a browser still on it shows no more notifications. */
  async stop(): Promise<void> {
    this.sock?.destroy();
    for (const p of this.pending.values()) p.reject(new Error('NotificationServer stopped'));
    this.pending.clear();
    await endTethered(this.bus);
  }

  private get(n: ShownNotification | number): ShownNotification {
    const id = typeof n === 'number' ? n : n.id;
    const shown = this.shown.find((s) => s.id === id);
    if (!shown) throw new Error(`NotificationServer: no notification #${id}`);
    return shown;
  }

  private connect(socket: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const sock = net.connect(socket);
      this.sock = sock;
      let buf: Buffer = Buffer.alloc(0);
      let authed = false;
      sock.once('error', reject);
      sock.on('connect', () => {
        const uid = Buffer.from(String(process.getuid?.() ?? 0)).toString('hex');
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
          if (!line.startsWith('OK ')) return reject(new Error(`NotificationServer: D-Bus authentication failed: ${line}`));
          authed = true;
          sock.write('BEGIN\r\n');
          resolve();
        }
        let msgs: Message[];
        [msgs, buf] = decodeMessages(buf);
        for (const m of msgs) this.onMessage(m);
      });
    });
  }

  private send(type: number, fields: Fields, signature = '', body: Value[] = []): number {
    const serial = ++this.serial;
    this.sock?.write(encodeMessage(type, serial, fields, signature, body));
    return serial;
  }

  private call(destination: string, objPath: string, iface: string, member: string, signature = '', body: Value[] = []): Promise<Value[]> {
    const serial = this.send(TYPE.call, { path: objPath, interface: iface, member, destination }, signature, body);
    return new Promise((resolve, reject) => this.pending.set(serial, { resolve, reject }));
  }

  private reply(m: Message, signature = '', body: Value[] = []) {
    this.send(TYPE.return, { replySerial: m.serial, destination: m.sender }, signature, body);
  }

  private signal(member: string, signature: string, body: Value[]) {
    this.send(TYPE.signal, { path: OBJECT, interface: NAME, member }, signature, body);
  }

  private onMessage(m: Message) {
    if (m.type === TYPE.return || m.type === TYPE.error) {
      const p = m.replySerial === undefined ? undefined : this.pending.get(m.replySerial);
      if (!p) return;
      this.pending.delete(m.replySerial!);
      if (m.type === TYPE.return) p.resolve(m.body);
      else p.reject(new Error(`${m.errorName}: ${String(m.body[0] ?? '')}`));
      return;
    }
    if (m.type !== TYPE.call) return;
    const key = `${m.interface ?? ''}.${m.member}`;
    switch (key) {
      case `${NAME}.GetCapabilities`:
        return this.reply(m, 'as', [['actions', 'body', 'persistence']]);
      case `${NAME}.GetServerInformation`:
        return this.reply(m, 'ssss', ['pushtest', 'pushstart', '1.0', '1.2']);
      case `${NAME}.Notify`:
        return this.notify(m);
      case `${NAME}.CloseNotification`: {
        this.reply(m);
        this.closeWith(m.body[0] as number, CLOSED_BY_CALL);
        return;
      }
      case 'org.freedesktop.DBus.Peer.Ping':
        return this.reply(m);
      case 'org.freedesktop.DBus.Introspectable.Introspect':
        return this.reply(m, 's', ['<node/>']);
      default:
        this.send(
          TYPE.error,
          { replySerial: m.serial, destination: m.sender, errorName: 'org.freedesktop.DBus.Error.UnknownMethod' },
          's',
          [`unknown method ${key}`],
        );
    }
  }

  /** Notify(app_name, replaces_id, app_icon, summary, body, actions, hints, expire_timeout) → id. */
  private notify(m: Message) {
    const [appName, replacesId, , summary, body, actions, hints] = m.body as [
      string, number, string, string, string, string[], Record<string, unknown>, number,
    ];
    const id = replacesId || this.nextId++;
    const pairs: Array<{ action: string; title: string }> = [];
    for (let k = 0; k + 1 < actions.length; k += 2) pairs.push({ action: actions[k], title: actions[k + 1] });
    const n: ShownNotification = { id, appName, title: summary, body, actions: pairs, hints, closed: false };
    const at = this.shown.findIndex((s) => s.id === id);
    if (at >= 0) this.shown[at] = n;
    else this.shown.push(n);
    this.reply(m, 'u', [id]);
    for (const w of [...this.waiters]) w();
  }

  private closeWith(id: number, reason: number) {
    const n = this.shown.find((s) => s.id === id);
    if (!n || n.closed) return;
    n.closed = true;
    this.signal('NotificationClosed', 'uu', [id, reason]);
  }
}
