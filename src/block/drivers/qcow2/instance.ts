/**
 * The DriverInstance of an open qcow2 image: maps the driver interface onto
 * the image operations (read.ts, write.ts, zero-discard.ts, resize.ts, ...).
 */
import type { QDict } from '../../../qmp/json/value.js';
import type {
  BlockStatusExtent, DriverImageInfo, DriverInstance, InternalSnapshot, SnapshotTimes, StoredBitmap, WriteFlags, ZeroFlags,
} from '../driver.js';
import { QmpError } from '../../../qmp/error.js';
import { INCOMPAT_CORRUPT, INCOMPAT_DIRTY } from './constants.js';
import { qcow2Errors as E } from './errors.js';
import { lazyRefcounts } from './header.js';
import { checkQcow2Options } from './runtime-options.js';
import { buildHeaderCluster } from './header-write.js';
import type { Qcow2Image } from './image.js';
import { claimStoredBitmaps, loadBitmaps, removeStoredBitmap, storeBitmaps, storedBitmapInfo } from './bitmaps.js';
import { readImage } from './read.js';
import { truncateImage } from './resize.js';
import { createSnapshot, currentTimes, deleteSnapshot, snapshotInfo } from './snapshots.js';
import { blockStatusImage } from './status.js';
import { writeImage } from './write.js';
import { discardImage, writeZeroesImage } from './zero-discard.js';

export class Qcow2Instance implements DriverInstance {
  constructor(readonly img: Qcow2Image) {}

  /** qcow2_reopen_prepare runs the same qcow2_update_options_prepare as the open (qmpd sizes its own caches). */
  prepareReopen(options: QDict): void {
    checkQcow2Options(options, this.img);
  }

  length(): number {
    return this.img.size;
  }

  read(offset: number, buf: Buffer): Promise<void> {
    return readImage(this.img, offset, buf);
  }

  async write(offset: number, data: Buffer, flags: WriteFlags): Promise<void> {
    const gate = this.img.gate;
    if (!gate.tryEnter()) await gate.enter();
    try {
      await writeImage(this.img, offset, data);
    } finally {
      gate.leave();
    }
    if (flags.fua) await this.img.flush();
  }

  async writeZeroes(offset: number, length: number, flags: ZeroFlags): Promise<void> {
    const gate = this.img.gate;
    if (!gate.tryEnter()) await gate.enter();
    try {
      await writeZeroesImage(this.img, offset, length, flags);
    } finally {
      gate.leave();
    }
    if (flags.fua) await this.img.flush();
  }

  async discard(offset: number, length: number): Promise<void> {
    const gate = this.img.gate;
    if (!gate.tryEnter()) await gate.enter();
    try {
      await discardImage(this.img, offset, length);
    } finally {
      gate.leave();
    }
  }

  flush(): Promise<void> {
    return this.img.flush();
  }

  async truncate(length: number): Promise<void> {
    const img = this.img;
    const old = img.size;
    // bdrv_co_truncate(): the new area must not show what the backing file has
    // there, which it only has when it is longer than the image was
    const backing = img.backing();
    const zero = length > old && backing !== null && backing.length() > old;
    await img.gate.exclusive(() => truncateImage(img, length));
    if (zero) await this.writeZeroes(old, length - old, { mayUnmap: false });
  }

  listSnapshots(): InternalSnapshot[] {
    return this.img.snapshots.map(snapshotInfo);
  }

  async createSnapshot(name: string, times: SnapshotTimes = currentTimes()): Promise<InternalSnapshot> {
    const img = this.img;
    if (img.readOnly) throw QmpError.io('EPERM', 'Operation not permitted');
    await img.ensureWritable();
    return img.gate.exclusive(() => img.lock.run(() => createSnapshot(img, name, times)));
  }

  deleteSnapshot(id: string | undefined, name: string | undefined): Promise<InternalSnapshot> {
    const img = this.img;
    return img.gate.exclusive(() => img.lock.run(() => deleteSnapshot(img, id, name)));
  }

  blockStatus(offset: number, length: number): Promise<BlockStatusExtent> {
    return blockStatusImage(this.img, offset, length);
  }

  backingReference(): { filename: string; format?: string } | null {
    const h = this.img.header;
    if (h.backingFile === null) return null;
    return h.backingFormat === null ? { filename: h.backingFile } : { filename: h.backingFile, format: h.backingFormat };
  }

  async setBackingReference(filename: string | null, format: string | null): Promise<void> {
    const img = this.img;
    await img.ensureWritable();
    await img.lock.run(async () => {
      const h = img.header;
      const next = { ...h, backingFile: filename, backingFormat: filename === null ? null : format };
      const cluster = buildHeaderCluster(next);
      await img.file.write(0, cluster);
      await img.file.flush();
      h.backingFile = next.backingFile;
      h.backingFormat = next.backingFormat;
      h.backingFileOffset = Number(cluster.readBigUInt64BE(8));
      h.backingFileSize = cluster.readUInt32BE(16);
    });
  }

  imageInfo(): DriverImageInfo {
    const h = this.img.header;
    const data: Record<string, unknown> = {};
    if (h.version >= 3) {
      data['compat'] = '1.1';
      data['compression-type'] = h.compressionType === 1 ? 'zstd' : 'zlib';
      data['lazy-refcounts'] = lazyRefcounts(h);
      const bitmaps = storedBitmapInfo(this.img);
      if (bitmaps.length > 0) data['bitmaps'] = bitmaps;
      data['refcount-bits'] = 2 ** h.refcountOrder;
      data['corrupt'] = (h.incompatible & INCOMPAT_CORRUPT) !== 0n;
      data['extended-l2'] = this.img.extL2;
    } else {
      data['compat'] = '0.10';
      data['compression-type'] = 'zlib';
      data['refcount-bits'] = 16;
    }
    return {
      clusterSize: this.img.cs,
      formatSpecific: { type: 'qcow2', data },
      dirtyFlag: (h.incompatible & INCOMPAT_DIRTY) !== 0n,
    };
  }

  /** Going read-write, the stored bitmaps are flagged in use again (its caller stored them before going read-only). */
  async reopen(readOnly: boolean): Promise<void> {
    const img = this.img;
    if (readOnly === img.readOnly) return;
    if (readOnly) {
      await img.flush();
      img.readOnly = true;
      return;
    }
    const h = img.header;
    if ((h.incompatible & INCOMPAT_CORRUPT) !== 0n || img.corrupt) throw E.corruptReadWrite();
    if ((h.incompatible & INCOMPAT_DIRTY) !== 0n) throw E.dirtyReadWrite();
    img.readOnly = false;
    await claimStoredBitmaps(img);
  }

  loadBitmaps(): Promise<StoredBitmap[]> {
    return loadBitmaps(this.img);
  }

  storeBitmaps(bitmaps: StoredBitmap[]): Promise<void> {
    return storeBitmaps(this.img, bitmaps);
  }

  removeStoredBitmap(name: string): Promise<void> {
    return removeStoredBitmap(this.img, name);
  }

  async close(): Promise<void> {
    if (!this.img.readOnly) await this.img.flush();
  }
}
