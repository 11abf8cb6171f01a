/** Network forward rows: a listen address per network, with its config and port rules. */
import type { NetworkForwardPort } from '../../api/network-forward';
import { jsonMap } from './database';
import { type Sql, Statements } from './sql';

export interface NetworkForwardRecord {
  id: number;
  networkId: number;
  /** The network's name (every forward belongs to a managed network). */
  network: string;
  listenAddress: string;
  description: string;
  config: Record<string, string>;
  ports: NetworkForwardPort[];
}

interface Row {
  id: number;
  network_id: number;
  network: string;
  listen_address: string;
  description: string;
  config: string;
  ports: string;
}

const SELECT = `SELECT f.id, f.network_id, n.name AS network, f.listen_address, f.description, f.config, f.ports
  FROM networks_forwards f JOIN networks n ON n.id = f.network_id`;

export class NetworkForwardQueries {
  private readonly st;

  constructor(sql: Sql) {
    const s = new Statements(sql);
    this.st = {
      all: s.prepare<[], Row>(`${SELECT} ORDER BY n.name, f.listen_address`),
      list: s.prepare<[number], Row>(`${SELECT} WHERE f.network_id = ? ORDER BY f.listen_address`),
      one: s.prepare<[number, string], Row>(`${SELECT} WHERE f.network_id = ? AND f.listen_address = ?`),
      insert: s.prepare('INSERT INTO networks_forwards (network_id, listen_address, description, config, ports) VALUES (?, ?, ?, ?, ?)'),
      update: s.prepare('UPDATE networks_forwards SET description = ?, config = ?, ports = ? WHERE id = ?'),
      remove: s.prepare('DELETE FROM networks_forwards WHERE id = ?'),
    };
  }

  /** Every forward of every network (listen address clash checks). */
  async all(): Promise<NetworkForwardRecord[]> {
    return (await this.st.all.all()).map(toRecord);
  }

  async list(networkId: number): Promise<NetworkForwardRecord[]> {
    return (await this.st.list.all(networkId)).map(toRecord);
  }

  async get(networkId: number, listenAddress: string): Promise<NetworkForwardRecord | undefined> {
    const r = await this.st.one.get(networkId, listenAddress);
    return r ? toRecord(r) : undefined;
  }

  async create(rec: Omit<NetworkForwardRecord, 'id' | 'network'>): Promise<void> {
    await this.st.insert.run(rec.networkId, rec.listenAddress, rec.description, JSON.stringify(rec.config), JSON.stringify(rec.ports));
  }

  async update(rec: Pick<NetworkForwardRecord, 'id' | 'description' | 'config' | 'ports'>): Promise<void> {
    await this.st.update.run(rec.description, JSON.stringify(rec.config), JSON.stringify(rec.ports), rec.id);
  }

  async delete(id: number): Promise<void> {
    await this.st.remove.run(id);
  }
}

function toRecord(r: Row): NetworkForwardRecord {
  return {
    id: r.id,
    networkId: r.network_id,
    network: r.network,
    listenAddress: r.listen_address,
    description: r.description,
    config: jsonMap(r.config),
    ports: jsonMap<NetworkForwardPort[]>(r.ports),
  };
}
