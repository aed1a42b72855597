// Runs app-worker.js (argv[2], its template fields filled in) in a sandbox
// that stands in for a service worker's global scope, plays the scenarios of
// argv[3] (a JSON array) through its push, notificationclick,
// notificationclose and pushsubscriptionchange handlers, and prints what it
// observed as JSON: the notifications shown, the app badges set, the reports
// and subscriptions posted to the server, the windows opened or focused, the
// trace steps posted to the page. Used by sw_test.go: the browser's part is faked, the
// worker's code is not.

"use strict";

const fs = require("fs");
const vm = require("vm");

const source = fs.readFileSync(process.argv[2], "utf8");
const scenarios = JSON.parse(fs.readFileSync(process.argv[3], "utf8"));

/**
 * A push event's data as the browser gives it, holding text; null for a push
 * without a payload.
 * @param {string | null} text
 */
function pushData(text) {
  if (text === null) {
    return null;
  }
  return {
    text: () => text,
    json: () => JSON.parse(text),
    arrayBuffer: () => new TextEncoder().encode(text).buffer,
  };
}

async function play(scenario) {
  const seen = { shown: [], badges: [], reports: [], stored: [], opened: [], focused: [], traces: [], rejected: [], subscribed: [] };
  const sub = (endpoint, key) => ({
    endpoint,
    options: { applicationServerKey: key || new Uint8Array([4, 1, 2]) },
    toJSON: () => ({ endpoint, expirationTime: null, keys: { p256dh: "p256dh-key", auth: "auth-secret" } }),
  });
  const listeners = {};
  let refusals = scenario.refuseOptions ? 1 : 0;
  // The page that follows the flow; a click on a notification whose url is
  // its own focuses it.
  const page = {
    url: "https://kit.example/?page",
    postMessage: (message) => {
      if (scenario.postFails) {
        throw new DOMException("The object could not be cloned.", "DataCloneError");
      }
      seen.traces.push(structuredClone(message.pushstartTrace));
    },
    focus: async () => {
      seen.focused.push(page.url);
      return page;
    },
  };
  // The Badging API of Chromium's workers; "badge": "none" is a browser
  // without it (Firefox), "fails" one whose calls reject.
  const badging = {
    setAppBadge: async (n) => {
      if (scenario.badge === "fails") {
        throw new DOMException("The badge could not be set.", "NotAllowedError");
      }
      seen.badges.push("set " + n);
    },
    clearAppBadge: async () => {
      seen.badges.push("clear");
    },
  };
  const self = {
    location: { origin: "https://kit.example" },
    navigator: scenario.badge === "none" ? {} : badging,
    addEventListener: (type, fn) => {
      listeners[type] = fn;
    },
    registration: {
      pushManager: {
        subscribe: async (options) => {
          seen.subscribed.push(Array.from(options.applicationServerKey));
          return sub("https://push.example/wpush/v2/fresh-token-5555555555", options.applicationServerKey);
        },
      },
      showNotification: async (title, options) => {
        if (refusals > 0) {
          refusals--;
          throw new TypeError("options refused");
        }
        // The browser keeps a structured clone of data.
        seen.shown.push({ title, options: structuredClone(options || {}) });
      },
    },
    clients: {
      matchAll: async () => [page],
      openWindow: async (url) => {
        seen.opened.push(url);
        return null;
      },
    },
  };
  const fetch = async (url, init) => {
    if (url === "/api/subscriptions") {
      seen.stored.push(JSON.parse(init.body));
      return { ok: !scenario.storeFails, status: scenario.storeFails ? 500 : 201, text: async () => "{}" };
    }
    seen.reports.push({
      url,
      method: init.method,
      credentials: init.credentials,
      contentType: init.headers["Content-Type"],
      body: JSON.parse(init.body),
    });
    if (scenario.reportsFail) {
      throw new TypeError("Failed to fetch");
    }
    return { ok: true, status: 204, text: async () => "" };
  };
  const quiet = { log() {}, warn() {}, error() {} };
  const context = vm.createContext({ self, fetch, console: quiet, URL, atob, TextEncoder, caches: {} });
  vm.runInContext(source, context);

  // Each event's waitUntil promises, settled before the next event.
  const dispatch = async (type, fields) => {
    const waits = [];
    listeners[type]({ ...fields, waitUntil: (p) => waits.push(p) });
    for (const r of await Promise.allSettled(waits)) {
      if (r.status === "rejected") {
        seen.rejected.push(type + ": " + r.reason);
      }
    }
  };
  if (scenario.then === "change") {
    // "noNew": Firefox's event when its push service forgot it (measured
    // with Firefox ESR 153): the old subscription, no new one.
    await dispatch("pushsubscriptionchange", {
      oldSubscription: sub("https://push.example/wpush/v2/old-token-0123456789"),
      newSubscription: scenario.noNew ? null : sub("https://push.example/wpush/v2/new-token-9876543210"),
    });
    return seen;
  }
  // data: the payload's text, null for a push without one.
  await dispatch("push", { data: pushData(scenario.data) });
  const last = seen.shown[seen.shown.length - 1];
  const notification = {
    title: last ? last.title : "",
    tag: last && last.options.tag ? last.options.tag : "",
    data: last ? last.options.data : undefined,
    close() {},
  };
  if (scenario.then === "click") {
    await dispatch("notificationclick", { notification, action: scenario.action || "" });
  } else if (scenario.then === "close") {
    await dispatch("notificationclose", { notification });
  }
  return seen;
}

(async () => {
  const out = [];
  for (const s of scenarios) {
    out.push(await play(s));
  }
  process.stdout.write(JSON.stringify(out));
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
