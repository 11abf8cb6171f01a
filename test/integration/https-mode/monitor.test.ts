/** monitor.test.ts again, the events websocket of every `incus monitor` over an HTTPS remote (see ./over-https.ts). */
import { runOverHttps } from './over-https';

runOverHttps('../monitor.test');
