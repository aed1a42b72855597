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

/** A click focuses a window already at the notification's URL, or opens one. */
self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const url = new URL(event.notification.data?.url || '/', self.location.origin).href;
  event.waitUntil((async () => {
    const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
    const open = windows.find((w) => w.url === url);
    return open ? open.focus() : self.clients.openWindow(url);
  })());
});
