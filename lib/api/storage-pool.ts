/** Storage pools (`/1.0/storage-pools`). */

export interface StoragePoolPut {
  config: Record<string, string>;
  description: string;
}

export interface StoragePool extends StoragePoolPut {
  name: string;
  driver: string;
  used_by: string[];
  status: string;
  locations: string[];
}

export interface StoragePoolsPost extends Partial<StoragePoolPut> {
  name: string;
  driver: string;
}
