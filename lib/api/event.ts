/** Messages on the `/1.0/events` websocket. */

export type EventType = 'operation' | 'lifecycle' | 'logging';

export interface Event<T = unknown> {
  type: EventType;
  timestamp: string;
  metadata: T;
  location: string;
  project: string;
}

export interface LifecycleEvent {
  action: string;
  source: string;
  context?: Record<string, unknown>;
  requestor?: { username: string; protocol: string; address: string };
  name?: string;
  project?: string;
}

export interface LoggingEvent {
  message: string;
  level: string;
  context: Record<string, string>;
}
