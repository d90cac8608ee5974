/**
 * The web app's entry: `/listen#…` is the listener page, everything else the broadcaster page.
 * The relay serves this one index.html for both (docs/web.md). Each page is its own chunk, so a
 * listener never downloads the encoder and a broadcaster never downloads the player.
 */
import './ui/styles.css';

const root = document.getElementById('app');
if (!root) throw new Error('index.html has no #app element');
if (/\/listen\/?$/.test(location.pathname)) {
  void import('./listen/listener-page.ts').then((m) => m.mountListenerPage(root));
} else {
  void import('./broadcast/broadcaster-page.ts').then((m) => m.mountBroadcasterPage(root));
}
