// Package push is the kit's Web Push domain, shared by the page (built to
// WebAssembly), the server and the local push service: the rules that do not
// depend on where they run.
//
//   - Notification: the JSON contract between the sender and the service
//     worker, the body of every push message before encryption. Its fields
//     map one to one onto the options of the browser's
//     ServiceWorkerRegistration.showNotification(title, options); the worker
//     (sw/app-worker.js) reads exactly this shape, and any field left empty is
//     left out of the JSON and so takes the browser's default. Two keys inside
//     Data have a meaning when the notification is clicked: "url", the
//     same-origin page to focus or open (default "/"), and "actionUrls", an
//     object mapping an action's name to the same-origin page that clicking
//     that action opens. Everything else in Data reaches notification.data
//     exactly as sent.
//   - Message: a payload with the headers it is sent with (TTL, Urgency,
//     Topic), bounded as RFC 8030 and one RFC 8291 record require.
//   - CheckKeys: whether a subscription's keys can be encrypted to.
//   - Outcome: what became of one message sent to one subscription.
//   - FieldError: a validation failure naming the JSON field at fault, the
//     one error vocabulary of every check here.
//   - Fingerprint: how a push endpoint, a secret capability URL, is named in
//     logs; and the base64url helpers every part of the protocol uses.
//
// It imports nothing of the kit.
package push
