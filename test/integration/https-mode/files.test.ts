/** files.test.ts again, every CLI call over an HTTPS remote (see ./over-https.ts). */
import { runOverHttps } from './over-https';

runOverHttps('../files.test', {
  skipApiOnly: [
    'SFTP: list, put, get, symlink, rename over an upgraded connection',
    "OpenSSH's sftp client works against the endpoint",
    'no fd or helper process is left behind in the daemon',
  ],
});
