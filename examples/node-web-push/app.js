// The page: registers the service worker, and on a click asks for permission,
// subscribes with the server's VAPID key and stores the subscription.
const status = document.getElementById('status');
const button = document.getElementById('enable');

// A notification's click opens its URL; this one says so.
document.getElementById('opened').hidden = new URLSearchParams(location.search).get('from') !== 'notification';

const registration = navigator.serviceWorker.register('/sw.js');

/** Subscribes this browser and hands the subscription to the server. */
async function enable() {
  if (await Notification.requestPermission() !== 'granted') throw new Error('notifications are not allowed');
  const { publicKey } = await (await fetch('/vapid-public-key')).json();
  const reg = await registration;
  await navigator.serviceWorker.ready;
  const subscription = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: publicKey });
  const res = await fetch('/subscriptions', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(subscription),
  });
  if (!res.ok) throw new Error((await res.json()).error);
}

button.addEventListener('click', () => {
  button.disabled = true;
  status.textContent = 'Subscribing…';
  enable().then(
    () => { status.textContent = 'Subscribed.'; },
    (err) => { status.textContent = `Could not subscribe: ${err.message}`; button.disabled = false; },
  );
});
