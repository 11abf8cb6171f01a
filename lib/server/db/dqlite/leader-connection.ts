/**
 * The connection to the leader that a database (or the membership calls)
 * keeps: made on first use, set up once (OPEN), replaced after it is lost.
 */
import type { Connection } from './connection';
import type { LeaderSlot } from './retry';

/** A connection to the leader shared by one user at a time, replaced when lost. */
export class LeaderConnection implements LeaderSlot {
  private conn: Connection | null = null;
  private connecting: Promise<Connection> | null = null;

  /** @param setup runs once on every new connection (e.g. OPEN the database). */
  constructor(
    private readonly client: { connectLeader(deadline: number): Promise<Connection> },
    private readonly setup: (c: Connection) => Promise<void> = async () => undefined,
  ) {}

  async acquire(deadline: number): Promise<Connection> {
    if (this.conn && !this.conn.broken) return this.conn;
    this.conn = null;
    if (!this.connecting) {
      this.connecting = (async () => {
        const c = await this.client.connectLeader(deadline);
        try {
          await this.setup(c);
        } catch (err) {
          c.close();
          throw err;
        }
        return c;
      })().finally(() => {
        this.connecting = null;
      });
    }
    this.conn = await this.connecting;
    return this.conn;
  }

  drop(conn: Connection): void {
    conn.close();
    if (this.conn === conn) this.conn = null;
  }

  /** The current connection, if any (for a transaction that must not move). */
  current(): Connection | null {
    return this.conn && !this.conn.broken ? this.conn : null;
  }

  close(): void {
    this.conn?.close();
    this.conn = null;
  }
}

