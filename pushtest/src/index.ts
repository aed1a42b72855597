// @pushstart/pushtest: Web Push testing in real Chromium and Firefox with
// Playwright. A local push service (started here or already running), the
// browsers pointed at it, fault injection and its event feed, and a desktop
// notification server whose notifications a test can click. See README.md.

export { PushService, PushServiceError, sameEndpoint } from './service.js';
export type { BrowserConfig, FaultOptions, PushEvent, ServiceInfo } from './service.js';
export { launchBrowser, launchChromium, launchFirefox, watchChromiumPush } from './launch.js';
export type { ChromiumPushEvent, ChromiumPushWatch, LaunchedBrowser, LaunchOptions } from './launch.js';
export { NotificationServer } from './notifications.js';
export type { ShownNotification } from './notifications.js';
export { executablePath, missingSystemMessage } from './system.js';
export type { BrowserName } from './system.js';
