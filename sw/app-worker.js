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
//   3. Flow trace: post each of its steps to the open pages of this origin,
//      whose Flow panel shows them (see trace).

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
 * Payload contract: a JSON object in one of two shapes.
 *
 * Declarative Web Push (what the server sends; Go: push.Notification, which
 * the server turns into this shape), which Safari shows without running
 * this worker:
 *
 *   {
 *     "web_push": 8030, the number, marking the shape
 *     "notification": {
 *       "title": string, required, non-empty
 *       "navigate": string, the absolute URL a click opens
 *       "body", "icon", "badge", "image", "tag", "lang": string, optional
 *       "dir": "auto" | "ltr" | "rtl", optional
 *       "renotify", "requireInteraction", "silent": boolean, optional
 *       "vibrate": number[] (milliseconds), optional
 *       "timestamp": number (milliseconds since the epoch), optional
 *       "actions": [{ "action": string, "title": string, "icon"?: string,
 *                     "navigate"?: string, the URL a click on it opens }],
 *                  optional
 *       "data": any JSON value, optional, for the page's own code
 *       "app_badge": number >= 0, optional: the app's badge (0 clears it),
 *                  set where the browser has navigator.setAppBadge
 *     },
 *     "messageId": string, optional (see below)
 *   }
 *
 * A click opens the clicked action's navigate, else the notification's,
 * always on this origin: an http or https URL of another origin opens its
 * path, query and fragment here; anything else opens "/".
 *
 * The kit's earlier shape, still read: the members of "notification" above
 * at the top level, without navigate and app_badge; a click opens
 * data.actionUrls[the clicked action] or data.url, same-origin paths
 * (default "/").
 *
 * "messageId", at the top level in both shapes, is set by the server on each
 * push of a broadcast (Go: push.WithMessageID), never by the sender of the
 * notification.
 *
 * notification.data is the payload's data unchanged for the earlier shape
 * without a messageId; otherwise it is the worker's envelope (see wrapData),
 * which keeps the data beside what the click and the reports need: the
 * message id and the navigate URLs. unwrapData gives the click handler
 * "data" as the payload had it. The id goes back to POST /api/events with
 * each report: "shown" once showNotification resolved, "clicked" with the
 * clicked action ("" for the body), "closed" when dismissed. A report that
 * fails is logged; it never keeps a notification from showing or a click
 * from opening its page.
 *
 * Fields left out take the browser's defaults. Every push ends in a shown
 * notification, as browsers require of userVisibleOnly subscriptions: an
 * empty, non-JSON or title-less payload shows a fallback notification, and so
 * does a payload whose options the browser rejects. The app badge is set
 * after the notification is shown, and its failure is only traced.
 *
 * Each step (push received, decoded or the fallback and why, the options
 * showNotification took and the app badge) is traced to the open pages (see
 * trace), after the work it describes or beside it, never in its way.
 *
 * @param {PushEvent} event
 */
self.addEventListener("push", (event) => {
  event.waitUntil(showPush(event.data));
});

/**
 * Shows the notification a push message describes, or the fallback, and
 * traces each step: the push event, the decoded payload (or the fallback
 * and why), and the options showNotification took.
 * @param {PushMessageData | null} data
 * @returns {Promise<void>}
 */
async function showPush(data) {
  const size = payloadSize(data);
  trace("push", "Push event received", [
    { name: "has data", value: data ? "yes" : "no" },
    { name: "payload bytes", value: String(size) },
  ], "The browser decrypted the message and woke this service worker with a push event.", true);
  let read = { message: null, reason: "not JSON", detail: "" };
  try {
    read = readPayload(data);
  } catch (err) {
    console.error("push payload could not be read:", err);
    read.detail = String(err);
  }
  const message = read.message;
  if (!message) {
    const options = { body: FALLBACK_BODY };
    trace("decoded", "Fallback notification: " + read.reason, [
      { name: "fallback", value: read.reason },
      { name: "why", value: FALLBACK_REASONS[read.reason] || read.reason },
    ], read.detail, false);
    await self.registration.showNotification(FALLBACK_TITLE, options);
    trace("show", "showNotification resolved: the fallback", showFields(FALLBACK_TITLE, options),
      JSON.stringify({ title: FALLBACK_TITLE, options }, null, 2), true, "browser");
    await tracePosted();
    return;
  }
  trace("decoded", "Payload decoded", [
    { name: "title", value: message.title },
    { name: "options", value: Object.keys(message.options).join(", ") || "(none)" },
  ], read.detail, true);
  let shown;
  try {
    await self.registration.showNotification(message.title, message.options);
    shown = {
      title: "showNotification resolved",
      fields: showFields(message.title, message.options),
      detail: JSON.stringify({ title: message.title, options: message.options }, null, 2),
      ok: true,
    };
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
    shown = {
      title: "showNotification refused the options: the fallback was shown",
      fields: [
        { name: "error", value: String(err && err.message ? err.message : err) },
        ...showFields(message.title, fallback),
      ],
      detail: JSON.stringify({ refused: message.options, shown: { title: message.title, options: fallback } }, null, 2),
      ok: false,
    };
  }
  // The badge waits for the notification: it can never keep it from showing.
  const badge = await updateAppBadge(message.appBadge);
  if (badge) {
    shown.fields.push({ name: "app badge", value: badge });
  }
  trace("show", shown.title, shown.fields, shown.detail, shown.ok, "browser");
  await Promise.all([report(message.messageId, "shown", ""), tracePosted()]);
}

/** Why each fallback was shown, in the words of the Flow panel. */
const FALLBACK_REASONS = {
  "no data": "the push message carried no payload",
  "not JSON": "the payload is not JSON",
  "no title": "the payload is not a JSON object with a non-empty \"title\" " +
    "(in the Declarative Web Push shape, \"notification.title\")",
};

/**
 * Sets the app's badge to a payload's app_badge, or clears it for 0, where
 * the browser has the Badging API in workers (Chromium; Firefox has none).
 * Never rejects: a badge that cannot be set is only traced.
 * @param {any} count the payload's app_badge, undefined when it has none
 * @returns {Promise<string>} what became of it, for the trace; "" for no
 *   app_badge
 */
async function updateAppBadge(count) {
  if (count === undefined) {
    return "";
  }
  if (typeof count !== "number" || !(count >= 0)) {
    return "ignored: " + JSON.stringify(count) + " is not a number >= 0";
  }
  const nav = self.navigator;
  if (!nav || typeof nav.setAppBadge !== "function") {
    return count + ", not set: this browser has no app badge";
  }
  try {
    if (count === 0) {
      await nav.clearAppBadge();
      return "cleared";
    }
    await nav.setAppBadge(count);
    return "set to " + count;
  } catch (err) {
    console.warn("setting the app badge failed:", err);
    return count + ", not set: " + String(err && err.message ? err.message : err);
  }
}

/**
 * The size of a push message's payload in bytes, 0 without one.
 * @param {PushMessageData | null} data
 * @returns {number}
 */
function payloadSize(data) {
  if (!data) {
    return 0;
  }
  try {
    if (typeof data.arrayBuffer === "function") {
      return data.arrayBuffer().byteLength;
    }
    return new TextEncoder().encode(data.text()).length;
  } catch (err) {
    return 0;
  }
}

/**
 * The fields of a show step: the title and each option given, data as
 * JSON.
 * @param {string} title
 * @param {NotificationOptions} options
 * @returns {{name: string, value: string}[]}
 */
function showFields(title, options) {
  const fields = [{ name: "title", value: title }];
  for (const [name, value] of Object.entries(options)) {
    fields.push({ name, value: typeof value === "string" ? value : JSON.stringify(value) });
  }
  return fields;
}

/**
 * Reads a push message's payload, in either shape of the contract, into
 * showNotification's arguments.
 * @param {PushMessageData | null} data
 * @returns {{message: {title: string, options: NotificationOptions,
 *   messageId: string, appBadge: any} | null, reason: string, detail: string}}
 *   message is null when the payload is missing ("no data"), not JSON ("not
 *   JSON"), or not an object with a title ("no title"), and reason says
 *   which; detail is the payload as read, or the parser's error; messageId
 *   is "" when the payload has none; appBadge is the payload's app_badge,
 *   undefined when it has none.
 */
function readPayload(data) {
  if (!data) {
    return { message: null, reason: "no data", detail: "" };
  }
  let payload;
  try {
    payload = data.json();
  } catch (err) {
    console.error("push payload is not JSON:", err);
    return { message: null, reason: "not JSON", detail: String(err) };
  }
  const detail = JSON.stringify(payload, null, 2);
  if (!isObject(payload)) {
    return { message: null, reason: "no title", detail };
  }
  // Declarative Web Push puts the notification in a member of its own.
  const declarative = payload.web_push === 8030 && isObject(payload.notification);
  const note = declarative ? payload.notification : payload;
  if (typeof note.title !== "string" || note.title.trim() === "") {
    return { message: null, reason: "no title", detail };
  }
  const options = {};
  for (const field of OPTION_FIELDS) {
    if (note[field] !== undefined && note[field] !== null) {
      options[field] = note[field];
    }
  }
  // Where the clicks go, in the declarative shape; the earlier shape keeps
  // them in data.
  const links = declarative ? { navigate: typeof note.navigate === "string" ? note.navigate : "", actions: {} } : undefined;
  if (Array.isArray(note.actions)) {
    options.actions = note.actions.map((a) => {
      const action = { action: String(a.action), title: String(a.title) };
      if (a.icon) {
        action.icon = String(a.icon);
      }
      if (links && typeof a.navigate === "string") {
        links.actions[action.action] = a.navigate;
      }
      return action;
    });
  }
  const messageId = typeof payload.messageId === "string" ? payload.messageId : "";
  if (messageId || links) {
    options.data = wrapData(note.data, messageId, links);
  } else if ("data" in note) {
    options.data = note.data;
  }
  const appBadge = declarative ? note.app_badge : undefined;
  return { message: { title: note.title, options, messageId, appBadge }, reason: "", detail };
}

/**
 * @param {any} v
 * @returns {boolean} whether v is a JSON object (not null, not an array)
 */
function isObject(v) {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** Marks a notification.data that is the worker's envelope. */
const ENVELOPE = "pushstart-message";

/**
 * The notification.data of a push that has a message id or comes in the
 * declarative shape: the payload's data, beside the id, for the reports on
 * the notification, and the declarative payload's navigate URLs, for a
 * click.
 * @param {any} data the payload's "data" (undefined when it had none)
 * @param {string} messageId "" for none
 * @param {{navigate: string, actions: Object<string, string>}} [links] the
 *   notification's navigate and each action's, for a declarative payload
 * @returns {{envelope: string, messageId: string, data: any,
 *   navigate?: string, actionNavigate?: Object<string, string>}}
 */
function wrapData(data, messageId, links) {
  const envelope = { envelope: ENVELOPE, messageId, data };
  if (links) {
    envelope.navigate = links.navigate;
    envelope.actionNavigate = links.actions;
  }
  return envelope;
}

/**
 * Reads a notification's data: what wrapData kept, or, for a notification
 * without an envelope, its data as it is.
 * @param {any} raw notification.data
 * @returns {{data: any, messageId: string, navigate?: string,
 *   actionNavigate?: Object<string, string>}} messageId "" when there is
 *   none; navigate and actionNavigate only for a declarative payload
 */
function unwrapData(raw) {
  if (
    raw &&
    typeof raw === "object" &&
    raw.envelope === ENVELOPE &&
    typeof raw.messageId === "string"
  ) {
    const note = { data: raw.data, messageId: raw.messageId };
    if (typeof raw.navigate === "string") {
      note.navigate = raw.navigate;
      note.actionNavigate = isObject(raw.actionNavigate) ? raw.actionNavigate : {};
    }
    return note;
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
 * notificationclick: closes the notification and shows its page (see
 * clickTarget). Only pages of this origin are opened; any other target
 * becomes "/".
 * A window already showing the page is focused, otherwise a new one opens.
 * A broadcast's notification is reported clicked, beside the opening, and
 * the click is traced once the page is shown.
 *
 * @param {NotificationEvent} event
 */
self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const note = unwrapData(event.notification.data);
  const messageId = note.messageId;
  const action = event.action || "";
  const target = clickTarget(note, action);
  const title = event.notification.title || "";
  const fields = [
    { name: "notification", value: title },
    { name: "clicked", value: action ? "action " + action : "the notification's body" },
    { name: "url", value: target },
  ];
  const opening = focusOrOpen(target).then(
    (how) => {
      trace("click", "Notification clicked: " + how, [...fields, { name: "window", value: how }], "", true, "page");
      return tracePosted();
    },
    (err) => {
      trace("click", "Notification clicked, but opening its page failed", [
        ...fields,
        { name: "error", value: String(err && err.message ? err.message : err) },
      ], "", false, "page");
      return tracePosted().then(() => {
        throw err;
      });
    }
  );
  event.waitUntil(Promise.all([opening, report(messageId, "clicked", action)]));
});

/**
 * notificationclose: the user dismissed a notification without clicking
 * it. A broadcast's notification is reported closed; the close is traced.
 *
 * @param {NotificationEvent} event
 */
self.addEventListener("notificationclose", (event) => {
  const { messageId } = unwrapData(event.notification.data);
  trace("close", "Notification closed without a click", [
    { name: "notification", value: event.notification.title || "" },
    { name: "tag", value: event.notification.tag || "" },
  ], "", true);
  event.waitUntil(Promise.all([report(messageId, "closed", ""), tracePosted()]));
});

/**
 * Picks the absolute same-origin URL a click opens. A declarative payload's:
 * the clicked action's navigate if it has one, else the notification's
 * navigate. The earlier shape's: the clicked action's data.actionUrls entry
 * if it has one, else data.url, else "/".
 * @param {{data: any, navigate?: string, actionNavigate?: Object<string, string>}} note
 *   notification.data as unwrapData read it
 * @param {string} action the clicked action's name, "" for the body
 * @returns {string}
 */
function clickTarget(note, action) {
  if (note.navigate !== undefined) {
    const byAction = note.actionNavigate;
    const own = action && Object.prototype.hasOwnProperty.call(byAction, action) && typeof byAction[action] === "string";
    return navigateTarget(own ? byAction[action] : note.navigate);
  }
  const data = note.data;
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
 * The page a declarative payload's navigate names, on this origin: its path,
 * query and fragment, if sameOrigin accepts them, whatever origin the URL
 * names; else "/" of this origin. The server writes navigate from PUBLIC_URL,
 * which may differ from the origin the page was opened at (PUBLIC_URL unset,
 * or localhost for 127.0.0.1): the path is what the sender chose, and keeping
 * it on this origin is exactly as safe as the earlier shape's data.url.
 * @param {string} url
 * @returns {string} an absolute URL on self.location.origin
 */
function navigateTarget(url) {
  let parsed;
  try {
    parsed = new URL(url);
  } catch (err) {
    parsed = null;
  }
  if (!parsed || (parsed.protocol !== "https:" && parsed.protocol !== "http:")) {
    console.warn("notification target is not an http or https URL, opening / instead:", url);
    return new URL("/", self.location.origin).href;
  }
  if (parsed.origin !== self.location.origin) {
    console.warn("notification target names another origin, opening its page on this one:", url);
  }
  return sameOrigin(parsed.pathname + parsed.search + parsed.hash);
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
 * @returns {Promise<string>} what it did: "focused an existing window",
 *   "opened a new window", or "opened nothing" when it could not
 */
async function focusOrOpen(url) {
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  for (const client of windows) {
    if (client.url === url && "focus" in client) {
      await client.focus();
      return "focused an existing window";
    }
  }
  if (self.clients.openWindow) {
    await self.clients.openWindow(url);
    return "opened a new window";
  }
  return "opened nothing";
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
  const oldEndpoint = event.oldSubscription ? event.oldSubscription.endpoint : "";
  event.waitUntil(
    renewSubscription(event.oldSubscription, event.newSubscription).then(
      (newEndpoint) => {
        trace("subscription", "Subscription renewed and stored on the server", [
          { name: "old endpoint", value: shortEndpoint(oldEndpoint) },
          { name: "new endpoint", value: shortEndpoint(newEndpoint) },
          { name: "stored", value: "yes" },
        ], "", true, "server");
        return tracePosted();
      },
      (err) => {
        console.error("renewing the push subscription failed:", err);
        trace("subscription", "Renewing the subscription failed", [
          { name: "old endpoint", value: shortEndpoint(oldEndpoint) },
          { name: "error", value: String(err && err.message ? err.message : err) },
        ], "", false, "server");
        return tracePosted().then(() => {
          throw err;
        });
      }
    )
  );
});

/**
 * @param {PushSubscription | null} oldSubscription
 * @param {PushSubscription | null} newSubscription
 * @returns {Promise<string>} the new subscription's endpoint
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
  return body.endpoint;
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

// -----------------------------------------------------------------------------
// Flow trace
// -----------------------------------------------------------------------------

/**
 * The posts of the trace, one after the other, so that the pages get the
 * steps in the order they happened. Never rejects.
 * @type {Promise<void>}
 */
let tracePosts = Promise.resolve();

/**
 * Posts one step of the worker to every window of this origin as
 * {pushstartTrace: event}, event in the shape of the Go api.TraceEvent, for
 * the page's Flow panel. The posting runs beside the worker's real work,
 * never before it: it is not awaited by the caller, it never throws or
 * rejects, and a page that cannot take the message is skipped. Values name
 * endpoints by host and shortened path only (shortEndpoint), never keys.
 * @param {string} step one of the Go api.Step* names of the worker
 * @param {string} title one sentence
 * @param {{name: string, value: string}[]} fields
 * @param {string} detail preformatted, "" for none
 * @param {boolean} ok false for a step that went wrong
 * @param {string} [to] the actor it went to ("browser", "page", "server")
 */
function trace(step, title, fields, detail, ok, to) {
  const event = {
    at: new Date().toISOString(),
    actor: "worker",
    step,
    title,
    fields: fields.map((f) => ({ name: String(f.name), value: String(f.value) })),
    ok,
  };
  if (to) {
    event.to = to;
  }
  if (detail) {
    event.detail = detail;
  }
  tracePosts = tracePosts.then(() => postTrace(event)).catch((err) => {
    console.warn("posting a trace step failed:", err);
  });
}

/**
 * Resolves once every trace step so far was posted, so that an event's
 * waitUntil can keep the worker alive for them. Never rejects.
 * @returns {Promise<void>}
 */
function tracePosted() {
  return tracePosts;
}

/**
 * Posts event to every window client, each on its own: one that throws does
 * not keep the others from getting it.
 * @param {object} event
 * @returns {Promise<void>}
 */
async function postTrace(event) {
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  for (const client of windows) {
    try {
      client.postMessage({ pushstartTrace: event });
    } catch (err) {
      console.warn("posting a trace step to", client.url, "failed:", err);
    }
  }
}

/**
 * An endpoint as a trace may show it: its host and its path with the last
 * segment (the push service's token) cut to its first 8 characters. The
 * whole endpoint is a secret capability.
 * @param {string} endpoint
 * @returns {string}
 */
function shortEndpoint(endpoint) {
  if (!endpoint) {
    return "(none)";
  }
  try {
    const url = new URL(endpoint);
    const parts = url.pathname.split("/");
    const last = parts.pop() || "";
    parts.push(last.length > 8 ? last.slice(0, 8) + "…" : last);
    return url.host + parts.join("/");
  } catch (err) {
    return "(not a URL)";
  }
}
