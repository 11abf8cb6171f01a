/**
 * One-time image secrets (`POST /1.0/images/{fp}/secret`): a token-class
 * operation whose metadata holds the secret, running until the secret is
 * used (or the operation cancelled); a server pulling a private image
 * presents it on GET /1.0/images/{fp} and /export.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Operation } from '../../../api/operation';
import type { OperationRegistry } from '../../operations/registry';

interface Token {
  opId: string;
  project: string;
  fingerprint: string;
  secret: string;
  used: boolean;
  cancel: () => void;
}

export class ImageSecrets {
  private readonly tokens = new Map<string, Token>();

  constructor(private readonly ops: OperationRegistry) {}

  /** Starts the token operation for an image and returns it (metadata.secret holds the secret). */
  create(project: string, fingerprint: string): Operation {
    const secret = randomBytes(32).toString('hex');
    const op = this.ops.start({
      class: 'token',
      description: 'Image download token',
      project,
      resources: { images: [`/1.0/images/${fingerprint}`] },
      metadata: { secret },
      cancellable: true,
      run: (ctx) =>
        new Promise<void>((resolve) => {
          const token: Token = {
            opId: ctx.id,
            project,
            fingerprint,
            secret,
            used: false,
            // Ends as Cancelled, as Incus cancels a used token.
            cancel: () => {
              try {
                this.ops.cancel(ctx.id);
              } catch {
                resolve();
              }
            },
          };
          this.tokens.set(ctx.id, token);
          ctx.signal.addEventListener('abort', () => resolve(), { once: true });
        }).finally(() => this.tokens.delete(ctx.id)),
    });
    return op;
  }

  /**
   * True when `secret` is a live secret for this image. Using it for the
   * export ends the token (Incus lets a secret fetch the image info, then
   * the file, once).
   */
  check(project: string, fingerprint: string, secret: string, consume: boolean): boolean {
    if (!secret) return false;
    const given = Buffer.from(secret);
    for (const t of this.tokens.values()) {
      if (t.project !== project || t.fingerprint !== fingerprint) continue;
      const want = Buffer.from(t.secret);
      if (want.length !== given.length || !timingSafeEqual(want, given)) continue;
      if (consume && !t.used) {
        t.used = true;
        t.cancel();
      }
      return true;
    }
    return false;
  }

  /** Ends every token (daemon shutdown), so no operation waits on them. */
  closeAll(): void {
    for (const t of this.tokens.values()) t.cancel();
  }
}
