/** projects-cli.test.ts again, every CLI call over an HTTPS remote (see ./over-https.ts). */
import { runOverHttps } from './over-https';

runOverHttps('../projects-cli.test');
