/**
 * Event bus: an event is encoded once and written to every session that has
 * finished capabilities negotiation, in emission order.
 */
import { encodeMessage } from './json/encode.js';

export interface EventSubscriber {
  /** False while the session is still negotiating: QEMU does not queue events for it. */
  readonly wantsEvents: boolean;
  readonly pretty: boolean;
  sendRaw(text: string): void;
}

export interface QmpEvent {
  timestamp: { seconds: number; microseconds: number };
  event: string;
  data?: unknown;
}

export function eventTimestamp(nowMicros = wallClockMicros()): QmpEvent['timestamp'] {
  return { seconds: Math.floor(nowMicros / 1e6), microseconds: nowMicros % 1e6 };
}

function wallClockMicros(): number {
  return Math.floor((performance.timeOrigin + performance.now()) * 1000);
}

export type EventListener = (event: QmpEvent) => void;

export class EventBus {
  private readonly subscribers = new Set<EventSubscriber>();
  private readonly listeners = new Set<EventListener>();

  subscribe(s: EventSubscriber): () => void {
    this.subscribers.add(s);
    return () => this.subscribers.delete(s);
  }

  /** In-process observers (metrics, JSON-RPC, tests). */
  listen(l: EventListener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  emit(name: string, data?: unknown): void {
    // Member order as QEMU sends it: timestamp, event, data (data absent when none).
    const event: QmpEvent = { timestamp: eventTimestamp(), event: name };
    if (data !== undefined) event.data = data;
    let compact: string | undefined;
    let pretty: string | undefined;
    for (const s of this.subscribers) {
      if (!s.wantsEvents) continue;
      if (s.pretty) s.sendRaw((pretty ??= encodeMessage(event, true)));
      else s.sendRaw((compact ??= encodeMessage(event)));
    }
    for (const l of this.listeners) l(event);
  }
}
