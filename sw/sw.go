// Package sw holds the kit's service worker, app-worker.js, as the template
// that go-app serves at /app-worker.js.
//
// The worker keeps go-app's offline behaviour (cache the app's resources on
// install, drop old caches on activate, answer GET requests cache first) and
// adds Web Push: it shows every push message as a notification, opens the
// notification's page on click, renews the subscription when the push
// service replaces it, and reports a broadcast's notification shown, clicked
// and closed to POST /api/events with the payload's message id. It reads
// the Declarative Web Push payload the server makes of a push.Notification
// (and push.WithMessageID), and the kit's earlier payload, push.Notification
// itself, as the comment above its push handler describes. It posts
// each of its steps to the open pages as {pushstartTrace: event}, event in
// the shape of api.TraceEvent, for the page's Flow panel.
//
// go-app replaces two fields, by plain string replacement, when it serves the
// worker: {{.Version}} with the app version and {{.ResourcesToCache}} with a
// JSON array of the URLs to cache.
package sw

import _ "embed"

// Template is app-worker.js, for goapp.Handler.ServiceWorkerTemplate.
//
//go:embed app-worker.js
var Template string
