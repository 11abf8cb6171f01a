/**
 * Recognising a qcow2 disk image by its magic ("QFI\xfb"): the one test the
 * CLI (which part name to upload a rootfs under) and the daemon (an image's
 * instance type, how to convert a disk) both make.
 */
import { open } from 'node:fs/promises';

const QCOW2_MAGIC = Buffer.from([0x51, 0x46, 0x49, 0xfb]);

/** True when the file starts with the qcow2 magic. */
export async function isQcow2File(file: string): Promise<boolean> {
  const fh = await open(file, 'r');
  try {
    const b = Buffer.alloc(4);
    const { bytesRead } = await fh.read(b, 0, 4, 0);
    return bytesRead === 4 && b.equals(QCOW2_MAGIC);
  } finally {
    await fh.close();
  }
}
