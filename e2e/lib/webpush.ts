// A Web Push sender of the tests' own, for payloads the kit's server does
// not write: given the VAPID keys a kit was started with (lib/kit.mjs's
// vapidKeyPair), it encrypts any text (RFC 8291, aes128gcm), signs (RFC 8292)
// and pushes it to a subscription the kit's page made, through the local
// push service, which checks both as a real one does and hands the message
// to the browser.
import { createCipheriv, createECDH, createPrivateKey, hkdfSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import type { PushService } from '@pushstart/pushtest';
import type { SubscriptionJSON } from '../pages/home';

export class PayloadSender {
  /** The VAPID public key, the 65-byte uncompressed P-256 point, base64url. */
  readonly publicKey: string;
  private readonly privateKey: KeyObject;

  /** keys: base64url of the public point and of the private scalar, as the kit takes them. */
  constructor(keys: { publicKey: string; privateKey: string }) {
    const point = Buffer.from(keys.publicKey, 'base64url');
    this.publicKey = keys.publicKey;
    this.privateKey = createPrivateKey({
      format: 'jwk',
      key: {
        kty: 'EC',
        crv: 'P-256',
        x: point.subarray(1, 33).toString('base64url'),
        y: point.subarray(33, 65).toString('base64url'),
        d: keys.privateKey,
      },
    });
  }

  /**
   * Pushes payload (a value sent as its JSON, or a string sent as it is) to
   * the subscription through the push service, and returns the service's
   * status (201 when it took the message). Chromium's endpoints name FCM's
   * host: the request goes to the same path at the service, which then
   * checks the VAPID aud against its own origin.
   */
  async send(service: PushService, sub: SubscriptionJSON, payload: unknown): Promise<number> {
    const text = typeof payload === 'string' ? payload : JSON.stringify(payload);
    const url = service.url + new URL(sub.endpoint).pathname;
    const response = await fetch(url, {
      method: 'POST',
      headers: {
        Authorization: `vapid t=${this.jwt(service.url)}, k=${this.publicKey}`,
        'Content-Encoding': 'aes128gcm',
        'Content-Type': 'application/octet-stream',
        TTL: '60',
      },
      body: encrypt(Buffer.from(text), sub),
    });
    return response.status;
  }

  /** The VAPID JWT for a push service's origin (ES256, valid 12 h). */
  private jwt(aud: string): string {
    const part = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const unsigned = `${part({ typ: 'JWT', alg: 'ES256' })}.${part({ aud, exp: Math.floor(Date.now() / 1000) + 12 * 3600, sub: 'mailto:e2e@example.com' })}`;
    const signature = sign('sha256', Buffer.from(unsigned), { key: this.privateKey, dsaEncoding: 'ieee-p1363' });
    return `${unsigned}.${signature.toString('base64url')}`;
  }
}

/** RFC 8291's aes128gcm body of plaintext for the subscription: one record. */
function encrypt(plaintext: Buffer, sub: SubscriptionJSON): Buffer {
  const uaPublic = Buffer.from(sub.keys.p256dh, 'base64url');
  const authSecret = Buffer.from(sub.keys.auth, 'base64url');
  const ecdh = createECDH('prime256v1');
  const asPublic = ecdh.generateKeys();
  const keyInfo = Buffer.concat([Buffer.from('WebPush: info\0'), uaPublic, asPublic]);
  const ikm = Buffer.from(hkdfSync('sha256', ecdh.computeSecret(uaPublic), authSecret, keyInfo, 32));
  const salt = randomBytes(16);
  const cek = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: aes128gcm\0'), 16));
  const nonce = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: nonce\0'), 12));
  const cipher = createCipheriv('aes-128-gcm', cek, nonce);
  // 0x02: the last (and only) record, no padding.
  const sealed = Buffer.concat([cipher.update(Buffer.concat([plaintext, Buffer.from([2])])), cipher.final(), cipher.getAuthTag()]);
  const recordSize = Buffer.alloc(4);
  recordSize.writeUInt32BE(4096);
  return Buffer.concat([salt, recordSize, Buffer.from([asPublic.length]), asPublic, sealed]);
}
