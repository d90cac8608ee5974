/**
 * The web app's entry: `/listen#…` is the listener page, `/rooms` the Matrix pages (log in,
 * rooms, a room's broadcasts), everything else the broadcaster page.
 * The relay serves this one index.html for both (docs/web.md). Each page is its own chunk, so a
 * listener never downloads the encoder and a broadcaster never downloads the player.
 */
import './ui/styles.css';

const root = document.getElementById('app');
if (!root) throw new Error('index.html has no #app element');
if (/\/listen\/?$/.test(location.pathname)) {
  void import('./listen/listener-page.ts').then((m) => m.mountListenerPage(root));
} else if (/^\/rooms\/?$/.test(location.pathname)) {
  // The Matrix pages: matrix-js-sdk and the Rust crypto wasm load only here.
  void import('./matrix/matrix-app.ts').then((m) => m.mountMatrixApp(root));
} else {
  void import('./broadcast/broadcaster-page.ts').then((m) => m.mountBroadcasterPage(root));
}
