// Runs app-worker.js (argv[2], its template fields filled in) in a sandbox
// that stands in for a service worker's global scope, plays the scenarios of
// argv[3] (a JSON array) through its push, notificationclick and
// notificationclose handlers, and prints what it observed as JSON. Used by
// sw_test.go: the browser's part is faked, the worker's code is not.

"use strict";

const fs = require("fs");
const vm = require("vm");

const source = fs.readFileSync(process.argv[2], "utf8");
const scenarios = JSON.parse(fs.readFileSync(process.argv[3], "utf8"));

async function play(scenario) {
  const seen = { shown: [], reports: [], opened: [], rejected: [] };
  const listeners = {};
  let refusals = scenario.refuseOptions ? 1 : 0;
  const self = {
    location: { origin: "https://kit.example" },
    addEventListener: (type, fn) => {
      listeners[type] = fn;
    },
    registration: {
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
      matchAll: async () => [],
      openWindow: async (url) => {
        seen.opened.push(url);
        return null;
      },
    },
  };
  const fetch = async (url, init) => {
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
  const context = vm.createContext({ self, fetch, console: quiet, URL, atob, caches: {} });
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
  const payload = JSON.stringify(scenario.payload);
  await dispatch("push", { data: { json: () => JSON.parse(payload) } });
  const last = seen.shown[seen.shown.length - 1];
  const notification = { data: last ? last.options.data : undefined, close() {} };
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
