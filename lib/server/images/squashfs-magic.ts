/** Whether a file starts with the squashfs magic ("hsqs"). */
import { open } from 'node:fs/promises';

export async function isSquashfsFile(file: string): Promise<boolean> {
  const fh = await open(file, 'r');
  try {
    const b = Buffer.alloc(4);
    await fh.read(b, 0, 4, 0);
    return b.toString('latin1') === 'hsqs';
  } finally {
    await fh.close();
  }
}
