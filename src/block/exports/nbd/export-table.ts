/**
 * The exports a server offers, by name. Names are compared as UTF-8 bytes
 * (QEMU uses strcmp), so the map key is the name's bytes read as latin1.
 * Listing order is insertion order, as QEMU's export list.
 */
import { QmpError } from '../../../qmp/error.js';
import type { NbdExportBackend } from './backend.js';
import {
  EXPORT_SIZE_ALIGNMENT,
  NBD_FLAG_CAN_MULTI_CONN,
  NBD_FLAG_HAS_FLAGS,
  NBD_FLAG_READ_ONLY,
  NBD_FLAG_SEND_CACHE,
  NBD_FLAG_SEND_FAST_ZERO,
  NBD_FLAG_SEND_FLUSH,
  NBD_FLAG_SEND_FUA,
  NBD_FLAG_SEND_TRIM,
  NBD_FLAG_SEND_WRITE_ZEROES,
  NBD_MAX_STRING_SIZE,
} from './constants.js';

/** Something attached to an export that the table can drop (a connection). */
export interface ExportClient {
  /** Drops the connection at once (hard removal, server close). */
  destroy(): void;
}

export class ExportEntry {
  readonly nameBytes: Buffer;
  readonly descriptionBytes: Buffer | undefined;
  /** Transmission flags before per-connection additions (SEND_DF). */
  readonly flags: number;
  /** Connections in transmission phase on this export (they hold a reference, as in QEMU). */
  readonly clients = new Set<ExportClient>();
  /** Set once removed: no new client can select it; meta contexts bound to it are void. */
  removed = false;
  private idleWaiters: (() => void)[] = [];

  constructor(
    readonly backend: NbdExportBackend,
    multiConn: boolean,
  ) {
    this.nameBytes = Buffer.from(backend.name, 'utf8');
    this.descriptionBytes = backend.description !== undefined ? Buffer.from(backend.description, 'utf8') : undefined;
    let flags = NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH | NBD_FLAG_SEND_FUA | NBD_FLAG_SEND_CACHE;
    if (multiConn) flags |= NBD_FLAG_CAN_MULTI_CONN;
    if (backend.writable) flags |= NBD_FLAG_SEND_TRIM | NBD_FLAG_SEND_WRITE_ZEROES | NBD_FLAG_SEND_FAST_ZERO;
    else flags |= NBD_FLAG_READ_ONLY;
    this.flags = flags;
  }

  get key(): string {
    return this.nameBytes.toString('latin1');
  }

  /** The size clients see and requests are checked against: whole sectors, as QEMU. */
  size(): number {
    const s = this.backend.size();
    return s - (s % EXPORT_SIZE_ALIGNMENT);
  }

  attach(client: ExportClient): void {
    this.clients.add(client);
  }

  detach(client: ExportClient): void {
    if (!this.clients.delete(client) || this.clients.size > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  /** Resolves once no connection is attached (each detaches after its last request settled). */
  idle(): Promise<void> {
    if (this.clients.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }
}

export class ExportTable {
  private readonly byKey = new Map<string, ExportEntry>();

  add(backend: NbdExportBackend, multiConn: boolean): ExportEntry {
    const entry = new ExportEntry(backend, multiConn);
    // QEMU's nbd_export_create() texts.
    if (entry.nameBytes.length > NBD_MAX_STRING_SIZE) {
      throw QmpError.generic(`export name '${backend.name}' too long`);
    }
    if (entry.descriptionBytes && entry.descriptionBytes.length > NBD_MAX_STRING_SIZE) {
      throw QmpError.generic(`description '${backend.description}' too long`);
    }
    if (this.byKey.has(entry.key)) {
      throw QmpError.generic(`NBD server already has export named '${backend.name}'`);
    }
    this.byKey.set(entry.key, entry);
    return entry;
  }

  find(nameBytes: Buffer): ExportEntry | undefined {
    return this.byKey.get(nameBytes.toString('latin1'));
  }

  get(name: string): ExportEntry | undefined {
    return this.byKey.get(Buffer.from(name, 'utf8').toString('latin1'));
  }

  delete(entry: ExportEntry): void {
    if (this.byKey.get(entry.key) === entry) this.byKey.delete(entry.key);
    entry.removed = true;
  }

  all(): IterableIterator<ExportEntry> {
    return this.byKey.values();
  }

  get size(): number {
    return this.byKey.size;
  }
}
