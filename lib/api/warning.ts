/** Warnings (`/1.0/warnings`): conditions the server noticed, with their state. */

/** The writable part: `new` or `acknowledged`. */
export interface WarningPut {
  status: string;
}

export interface Warning extends WarningPut {
  uuid: string;
  location: string;
  project: string;
  type: string;
  count: number;
  first_seen_at: string;
  last_seen_at: string;
  last_message: string;
  severity: string;
  entity_url: string;
}
