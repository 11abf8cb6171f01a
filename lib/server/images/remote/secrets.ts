/**
 * One-time image secrets: a token-class operation whose metadata holds the
 * secret, running until the secret is used (or the operation cancelled).
 * A server pulling a private image presents it on GET /1.0/images/{fp} and
 * /export (`POST /1.0/images/{fp}/secret`); a server pushing an image
 * presents it with its upload (`POST /1.0/images` with source.mode "push",
 * whose token also carries what the copy should get: aliases, public...).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Operation } from '../../../api/operation';
import type { OperationRegistry } from '../../operations/registry';

interface Token {
  opId: string;
  project: string;
  fingerprint: string;
  secret: string;
  /** The token operation's metadata besides the secret. */
  extra: Record<string, unknown>;
  used: boolean;
  cancel: () => void;
}

export class ImageSecrets {
  private readonly tokens = new Map<string, Token>();

  constructor(private readonly ops: OperationRegistry) {}

  /**
   * Starts the token operation for an image and returns it (metadata.secret
   * holds the secret, next to `extra`).
   */
  create(project: string, fingerprint: string, extra: Record<string, unknown> = {}): Operation {
    const secret = randomBytes(32).toString('hex');
    const op = this.ops.start({
      class: 'token',
      description: 'Image download token',
      project,
      resources: { images: [`/1.0/images/${fingerprint}`] },
      metadata: { ...extra, secret },
      cancellable: true,
      run: (ctx) =>
        new Promise<void>((resolve) => {
          const token: Token = {
            opId: ctx.id,
            project,
            fingerprint,
            secret,
            extra,
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
    const t = this.find(project, fingerprint, secret);
    if (t && consume) this.use(t);
    return t !== undefined;
  }

  /**
   * Ends the token `secret` names for this image and returns its metadata
   * (without the secret); null when there is no such live token.
   */
  take(project: string, fingerprint: string, secret: string): Record<string, unknown> | null {
    const t = this.find(project, fingerprint, secret);
    if (!t) return null;
    this.use(t);
    return t.extra;
  }

  private find(project: string, fingerprint: string, secret: string): Token | undefined {
    if (!secret) return undefined;
    const given = Buffer.from(secret);
    for (const t of this.tokens.values()) {
      if (t.project !== project || t.fingerprint !== fingerprint) continue;
      const want = Buffer.from(t.secret);
      if (want.length === given.length && timingSafeEqual(want, given)) return t;
    }
    return undefined;
  }

  private use(t: Token): void {
    if (t.used) return;
    t.used = true;
    t.cancel();
  }

  /** Ends every token (daemon shutdown), so no operation waits on them. */
  closeAll(): void {
    for (const t of this.tokens.values()) t.cancel();
  }
}
