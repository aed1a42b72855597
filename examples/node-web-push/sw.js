// The service worker: shows each push as a notification and opens its URL
// when the notification is clicked.

/** A push always ends in a shown notification, whatever its payload (browsers require it). */
self.addEventListener('push', (event) => {
  let message = {};
  try {
    message = event.data?.json() ?? {};
  } catch {
    message = { body: event.data?.text() };
  }
  event.waitUntil(self.registration.showNotification(message.title || 'Push example', {
    body: message.body || '',
    data: { url: message.url || '/' },
  }));
});

/** A click focuses a window already at the notification's URL, or opens one: on this site only. */
self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  // The server checked the URL; the worker does not open another site whatever a push says.
  const { origin } = self.location;
  const wanted = event.notification.data?.url || '/';
  const target = URL.canParse(wanted, origin) ? new URL(wanted, origin) : null;
  const url = target?.origin === origin ? target.href : `${origin}/`;
  event.waitUntil((async () => {
    const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
    const open = windows.find((w) => w.url === url);
    return open ? open.focus() : self.clients.openWindow(url);
  })());
});
