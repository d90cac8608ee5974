/**
 * The web app's entry: `/listen#…` is the listener page, everything else the broadcaster page.
 * The relay serves this one index.html for both (docs/web.md).
 */
import './ui/styles.css';
import { mountBroadcasterPage } from './broadcast/broadcaster-page.ts';
import { mountListenerPage } from './listen/listener-page.ts';

const root = document.getElementById('app');
if (!root) throw new Error('index.html has no #app element');
if (/\/listen\/?$/.test(location.pathname)) mountListenerPage(root);
else mountBroadcasterPage(root);
