// pushstart service worker.
//
// go-app serves this file at /app-worker.js after filling in its Version and
// ResourcesToCache template fields (see sw.go). It does two jobs:
//   1. Offline app shell: cache the app's resources on install, delete the
//      caches of older versions on activate, answer GET requests cache first.
//      Requests to /api/ and every non-GET request always go to the network.
//   2. Web Push: show each push message as a notification, open the right
//      page when one is clicked, renew the subscription when the push service
//      replaces it, and report what became of a broadcast's notification
//      (shown, clicked, closed) for its funnel.

"use strict";

// -----------------------------------------------------------------------------
// Offline app shell
// -----------------------------------------------------------------------------

const CACHE_NAME = "pushstart-{{.Version}}";
const RESOURCES_TO_CACHE = {{.ResourcesToCache}};

/**
 * install: caches the app's resources for this version, then takes over
 * without waiting for the pages of the previous version to close. A failed
 * download is logged and leaves the new worker waiting, as go-app does.
 */
self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      try {
        const cache = await caches.open(CACHE_NAME);
        await cache.addAll(RESOURCES_TO_CACHE);
        await self.skipWaiting();
        console.log("pushstart worker {{.Version}} installed");
      } catch (err) {
        console.error("pushstart worker {{.Version}}: caching the app failed:", err);
      }
    })()
  );
});

/**
 * activate: deletes every cache but this version's, then controls the open
 * pages at once.
 */
self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      const names = await caches.keys();
      await Promise.all(
        names
          .filter((name) => name !== CACHE_NAME)
          .map((name) =>
            caches.delete(name).catch((err) => {
              console.error("deleting cache", name, "failed:", err);
            })
          )
      );
      await self.clients.claim();
      console.log("pushstart worker {{.Version}} activated");
    })()
  );
});

/**
 * fetch: answers GET requests from the cache, else from the network. The
 * kit's API (/api/...) and non-GET requests are not intercepted at all, so
 * they are never cached and always reach the server.
 */
self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") {
    return;
  }
  const url = new URL(request.url);
  if (url.origin === self.location.origin && url.pathname.startsWith("/api/")) {
    return;
  }
  event.respondWith(
    (async () => {
      const cached = await caches.match(request);
      return cached || fetch(request);
    })()
  );
});

// -----------------------------------------------------------------------------
// Web Push
// -----------------------------------------------------------------------------

/** Shown when a push message carries no usable payload. */
const FALLBACK_TITLE = "New notification";
const FALLBACK_BODY =
  "A push message arrived, but its payload could not be read.";

/**
 * The showNotification options a payload may set, copied as given. Their
 * meaning and allowed values are those of the Notification API.
 */
const OPTION_FIELDS = [
  "body",
  "icon",
  "badge",
  "image",
  "tag",
  "renotify",
  "requireInteraction",
  "silent",
  "vibrate",
  "lang",
  "dir",
  "timestamp",
];

/**
 * push: shows the push message as a notification.
 *
 * Payload contract (Go: push.Notification; the sender encrypts its JSON):
 *
 *   {
 *     "title": string, required, non-empty
 *     "body", "icon", "badge", "image", "tag", "lang": string, optional
 *     "dir": "auto" | "ltr" | "rtl", optional
 *     "renotify", "requireInteraction", "silent": boolean, optional
 *     "vibrate": number[] (milliseconds), optional
 *     "timestamp": number (milliseconds since the epoch), optional
 *     "actions": [{ "action": string, "title": string, "icon"?: string }], optional
 *     "data": any JSON value, optional; what the click handler reads:
 *             data.url (same-origin path to open, default "/") and
 *             data.actionUrls ({ action name: same-origin path }).
 *     "messageId": string, set by the server on each push of a broadcast
 *             (Go: push.WithMessageID), never by the sender of the
 *             notification; optional.
 *   }
 *
 * Without a messageId, "data" becomes notification.data unchanged. With
 * one, notification.data is the worker's envelope (see wrapData), which
 * keeps the id until the notification is clicked or closed; unwrapData
 * gives the click handler "data" as the payload had it. The id goes back to
 * POST /api/events with each report: "shown" once showNotification
 * resolved, "clicked" with the clicked action ("" for the body), "closed"
 * when dismissed. A report that fails is logged; it never keeps a
 * notification from showing or a click from opening its page.
 *
 * Fields left out take the browser's defaults. Every push ends in a shown
 * notification, as browsers require of userVisibleOnly subscriptions: an
 * empty, non-JSON or title-less payload shows a fallback notification, and so
 * does a payload whose options the browser rejects.
 *
 * @param {PushEvent} event
 */
self.addEventListener("push", (event) => {
  event.waitUntil(showPush(event.data));
});

/**
 * Shows the notification a push message describes, or the fallback.
 * @param {PushMessageData | null} data
 * @returns {Promise<void>}
 */
async function showPush(data) {
  let message = null;
  try {
    message = readPayload(data);
  } catch (err) {
    console.error("push payload could not be read:", err);
  }
  if (!message) {
    await self.registration.showNotification(FALLBACK_TITLE, { body: FALLBACK_BODY });
    return;
  }
  try {
    await self.registration.showNotification(message.title, message.options);
  } catch (err) {
    // For example renotify without a tag, or vibrate on a silent one.
    console.error("showNotification refused the payload's options:", err);
    const fallback = {
      body: "This notification's options were refused by the browser: " + err.message,
    };
    if (message.messageId) {
      // Its click and close still count; its page is "/".
      fallback.data = wrapData(undefined, message.messageId);
    }
    await self.registration.showNotification(message.title, fallback);
  }
  await report(message.messageId, "shown", "");
}

/**
 * Reads a push message's payload into showNotification's arguments.
 * @param {PushMessageData | null} data
 * @returns {{title: string, options: NotificationOptions, messageId: string}
 *   | null} null when the payload is missing, not JSON, not an object, or
 *   has no title; messageId is "" when the payload has none.
 */
function readPayload(data) {
  if (!data) {
    return null;
  }
  let payload;
  try {
    payload = data.json();
  } catch (err) {
    console.error("push payload is not JSON:", err);
    return null;
  }
  if (!payload || typeof payload !== "object" || Array.isArray(payload)) {
    return null;
  }
  if (typeof payload.title !== "string" || payload.title.trim() === "") {
    return null;
  }
  const options = {};
  for (const field of OPTION_FIELDS) {
    if (payload[field] !== undefined && payload[field] !== null) {
      options[field] = payload[field];
    }
  }
  if (Array.isArray(payload.actions)) {
    options.actions = payload.actions.map((a) => {
      const action = { action: String(a.action), title: String(a.title) };
      if (a.icon) {
        action.icon = String(a.icon);
      }
      return action;
    });
  }
  const messageId = typeof payload.messageId === "string" ? payload.messageId : "";
  if (messageId) {
    options.data = wrapData(payload.data, messageId);
  } else if ("data" in payload) {
    options.data = payload.data;
  }
  return { title: payload.title, options, messageId };
}

/** Marks a notification.data that is the worker's envelope. */
const ENVELOPE = "pushstart-message";

/**
 * The notification.data of a push that has a message id: the payload's
 * data, and the id, for the reports on the notification.
 * @param {any} data the payload's "data" (undefined when it had none)
 * @param {string} messageId
 * @returns {{envelope: string, messageId: string, data: any}}
 */
function wrapData(data, messageId) {
  return { envelope: ENVELOPE, messageId, data };
}

/**
 * Reads a notification's data: what wrapData kept, or, for a notification
 * without a message id, its data as it is.
 * @param {any} raw notification.data
 * @returns {{data: any, messageId: string}} messageId "" when there is none
 */
function unwrapData(raw) {
  if (
    raw &&
    typeof raw === "object" &&
    raw.envelope === ENVELOPE &&
    typeof raw.messageId === "string"
  ) {
    return { data: raw.data, messageId: raw.messageId };
  }
  return { data: raw, messageId: "" };
}

/**
 * Reports what became of a broadcast's notification to POST /api/events,
 * which counts it in the broadcast's funnel. Does nothing without a message
 * id (a test send's notification). Never rejects: a report that fails is
 * logged, and the notification or its page do not wait on it.
 * @param {string} messageId the push's message id, or ""
 * @param {"shown" | "clicked" | "closed"} type
 * @param {string} action the clicked action's name, "" for the body or for
 *   another type
 * @returns {Promise<void>}
 */
async function report(messageId, type, action) {
  if (!messageId) {
    return;
  }
  const event = { messageId, type };
  if (action) {
    event.action = action;
  }
  try {
    const response = await fetch("/api/events", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(event),
    });
    if (!response.ok) {
      console.warn("reporting", type, "answered", response.status + ":", await response.text());
    }
  } catch (err) {
    console.warn("reporting", type, "failed:", err);
  }
}

/**
 * notificationclick: closes the notification and shows its page: the
 * clicked action's data.actionUrls entry if it has one, else data.url, else
 * "/". Only pages of this origin are opened; any other target becomes "/".
 * A window already showing the page is focused, otherwise a new one opens.
 * A broadcast's notification is reported clicked, beside the opening.
 *
 * @param {NotificationEvent} event
 */
self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const { data, messageId } = unwrapData(event.notification.data);
  const target = clickTarget(data, event.action);
  event.waitUntil(
    Promise.all([focusOrOpen(target), report(messageId, "clicked", event.action || "")])
  );
});

/**
 * notificationclose: the user dismissed a notification without clicking
 * it. A broadcast's notification is reported closed.
 *
 * @param {NotificationEvent} event
 */
self.addEventListener("notificationclose", (event) => {
  const { messageId } = unwrapData(event.notification.data);
  if (messageId) {
    event.waitUntil(report(messageId, "closed", ""));
  }
});

/**
 * Picks the absolute same-origin URL a click opens.
 * @param {any} data notification.data
 * @param {string} action the clicked action's name, "" for the body
 * @returns {string}
 */
function clickTarget(data, action) {
  let path = "/";
  if (data && typeof data === "object") {
    const byAction = data.actionUrls;
    if (
      action &&
      byAction &&
      typeof byAction === "object" &&
      Object.prototype.hasOwnProperty.call(byAction, action) &&
      typeof byAction[action] === "string"
    ) {
      path = byAction[action];
    } else if (typeof data.url === "string" && data.url !== "") {
      path = data.url;
    }
  }
  return sameOrigin(path);
}

/**
 * Resolves path against this origin, refusing anything that leaves it, and
 * anything the server would not have accepted as data.url or data.actionUrls
 * (see isSameOriginPath).
 * @param {string} path
 * @returns {string} an absolute URL on self.location.origin
 */
function sameOrigin(path) {
  const origin = self.location.origin;
  if (!isSameOriginPath(path)) {
    console.warn("notification target is not a same-origin path, opening / instead:", path);
    return new URL("/", origin).href;
  }
  try {
    const url = new URL(path, origin);
    if (url.origin === origin) {
      return url.href;
    }
    console.warn("notification target leaves this origin, opening / instead:", path);
  } catch (err) {
    console.warn("notification target is not a URL, opening / instead:", path);
  }
  return new URL("/", origin).href;
}

/**
 * The server's rule for data.url and data.actionUrls (Go:
 * push.IsSameOriginPath, which gives the reason for each part), checked again
 * here because the URL parser strips or deletes some characters before it
 * resolves: exactly one leading "/"; no backslash, control character or white
 * space (\s is JavaScript's trim() set, U+FEFF included) anywhere; no lone
 * surrogate; and, before any "?" or "#", no empty segment ("//"), no
 * percent-encoded control, DEL or backslash, and no "/%2F" at the start.
 * @param {string} path
 * @returns {boolean}
 */
function isSameOriginPath(path) {
  if (!path.startsWith("/") || path.startsWith("//") || /[\\\u0000-\u001f\u007f-\u009f]|\s/.test(path)) {
    return false;
  }
  if (typeof path.isWellFormed === "function" && !path.isWellFormed()) {
    return false;
  }
  const pathOnly = path.split(/[?#]/, 1)[0];
  return (
    !pathOnly.includes("//") &&
    !/%(?:[01][0-9a-f]|7f|5c)/i.test(pathOnly) &&
    !/^\/%2f/i.test(pathOnly)
  );
}

/**
 * Focuses a window of this origin already at url, or opens one.
 * @param {string} url
 * @returns {Promise<WindowClient | null | void>}
 */
async function focusOrOpen(url) {
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  for (const client of windows) {
    if (client.url === url && "focus" in client) {
      return client.focus();
    }
  }
  if (self.clients.openWindow) {
    return self.clients.openWindow(url);
  }
}

/**
 * pushsubscriptionchange: the push service replaced or dropped the
 * subscription (expiry, key refresh). Subscribes again with the same VAPID
 * key (the old subscription's, else the server's current one); when the
 * browser already made the new subscription and passes it in the event, that
 * one is used. The new subscription goes to POST /api/subscriptions with
 * "oldEndpoint", so the server replaces the old row instead of keeping a dead
 * one.
 *
 * @param {PushSubscriptionChangeEvent} event
 */
self.addEventListener("pushsubscriptionchange", (event) => {
  event.waitUntil(
    renewSubscription(event.oldSubscription, event.newSubscription).catch((err) => {
      console.error("renewing the push subscription failed:", err);
      throw err;
    })
  );
});

/**
 * @param {PushSubscription | null} oldSubscription
 * @param {PushSubscription | null} newSubscription
 * @returns {Promise<void>}
 */
async function renewSubscription(oldSubscription, newSubscription) {
  let key = oldSubscription && oldSubscription.options
    ? oldSubscription.options.applicationServerKey
    : null;
  if (!key) {
    key = await serverKey();
  }
  const subscription =
    newSubscription ||
    (await self.registration.pushManager.subscribe({
      userVisibleOnly: true,
      applicationServerKey: key,
    }));
  const body = subscription.toJSON();
  if (oldSubscription && oldSubscription.endpoint && oldSubscription.endpoint !== body.endpoint) {
    body.oldEndpoint = oldSubscription.endpoint;
  }
  const response = await fetch("/api/subscriptions", {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!response.ok) {
    throw new Error("POST /api/subscriptions answered " + response.status + ": " + (await response.text()));
  }
}

/**
 * Fetches the server's VAPID public key as bytes.
 * @returns {Promise<Uint8Array>}
 */
async function serverKey() {
  const response = await fetch("/api/vapid-public-key", { credentials: "same-origin" });
  if (!response.ok) {
    throw new Error("GET /api/vapid-public-key answered " + response.status);
  }
  const { publicKey } = await response.json();
  return base64urlToBytes(publicKey);
}

/**
 * Decodes base64url, with or without padding.
 * @param {string} s
 * @returns {Uint8Array}
 */
function base64urlToBytes(s) {
  const b64 = s.replace(/-/g, "+").replace(/_/g, "/").replace(/=+$/, "");
  const raw = atob(b64 + "===".slice((b64.length + 3) % 4));
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) {
    bytes[i] = raw.charCodeAt(i);
  }
  return bytes;
}
