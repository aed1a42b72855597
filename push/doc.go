// Package push is the kit's Web Push domain, shared by the page (built to
// WebAssembly), the server and the local push service: the rules that do not
// depend on where they run.
//
//   - Notification: what the kit is asked to show, as the API takes it. Its
//     fields map one to one onto the options of the browser's
//     ServiceWorkerRegistration.showNotification(title, options), and any
//     field left empty is left out and so takes the browser's default. Two
//     keys inside Data have a meaning when the notification is clicked:
//     "url", the same-origin page to focus or open (default "/"), and
//     "actionUrls", an object mapping an action's name to the same-origin
//     page that clicking that action opens. AppBadge sets the installed
//     app's badge.
//   - The payload, the body of every push message before encryption:
//     Notification.Marshal writes it as a Declarative Web Push message
//     ({"web_push":8030,"notification":{...}}), which Safari 18.4 and later
//     shows without the service worker and which the kit's worker
//     (sw/app-worker.js) reads in every browser. Its links are absolute
//     URLs on an Origin, the page's. ReadPayload reads back this shape and
//     the kit's earlier one.
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
