/**
 * Guest writes (docs/qcow2-format.md §9). Clusters that are allocated and
 * COPIED are written in place, in parallel and without the metadata mutex.
 * The rest go through an allocation plan: under the mutex, wait for any
 * in-flight allocation of the same guest clusters, pick host clusters and
 * register them in flight; without the mutex, write head copy-on-write data,
 * the new data and tail copy-on-write data; under the mutex again, link.
 */
import { COW_MERGE_LIMIT } from './constants.js';
import { hostOfCluster, mapExtents } from './cluster-map.js';
import { readCompressedCluster } from './compressed.js';
import { Kind } from './entries.js';
import type { Qcow2Image } from './image.js';
import { linkPlan, makePlan, releaseNew, type AllocCluster, type AllocPlan, type HostRun } from './alloc-plan.js';
import { readBacking, readRange } from './read.js';
import { settleAll } from './settle.js';

export async function writeImage(img: Qcow2Image, offset: number, data: Buffer): Promise<void> {
  await img.ensureWritable();
  const epoch = img.frees.begin();
  try {
    await writeRange(img, offset, data);
  } finally {
    img.frees.end(epoch);
  }
}

/** Writes without the writable check; the caller holds an epoch. */
export async function writeRange(img: Qcow2Image, offset: number, data: Buffer): Promise<void> {
  const extents = await mapExtents(img, offset, data.length, true);
  const tasks: Promise<void>[] = [];
  let from = -1;
  let to = -1;
  const flushAlloc = (): void => {
    if (from < 0) return;
    tasks.push(allocatingWrite(img, from, data.subarray(from - offset, to - offset)));
    from = -1;
  };
  for (const e of extents) {
    if (e.kind === Kind.Normal && e.copied) {
      flushAlloc();
      tasks.push(img.file.write(e.host, data.subarray(e.guest - offset, e.guest - offset + e.length)));
    } else {
      if (from < 0) from = e.guest;
      to = e.guest + e.length;
    }
  }
  flushAlloc();
  await settleAll(tasks);
}

async function allocatingWrite(img: Qcow2Image, offset: number, data: Buffer): Promise<void> {
  const first = Math.floor(offset / img.cs);
  const last = Math.floor((offset + data.length - 1) / img.cs);
  let plan: AllocPlan | undefined;
  while (plan === undefined) {
    let wait: Promise<void> | undefined;
    const release = await img.lock.lock();
    try {
      wait = img.inflight.overlapping(first, last);
      if (wait === undefined) plan = await makePlan(img, offset, data.length);
    } finally {
      release();
    }
    if (wait !== undefined) await wait;
  }

  const p = plan;
  const tasks: Promise<void>[] = [];
  for (const e of p.inPlace) {
    tasks.push(img.file.write(e.host, data.subarray(e.guest - offset, e.guest - offset + e.length)));
  }
  for (const run of p.runs) tasks.push(writeRun(img, run, offset, data));
  try {
    await settleAll(tasks);
  } catch (err) {
    img.dataWriteFailed = true;
    await img.lock.run(async () => {
      try {
        await releaseNew(img, p.allocs);
      } finally {
        if (p.token) img.inflight.remove(p.token);
      }
    });
    throw err;
  }
  if (p.token === null) return;
  img.dataSinceSync = true;
  await img.lock.run(async () => {
    try {
      await linkPlan(img, p);
    } finally {
      img.inflight.remove(p.token!);
    }
    await img.maybeWriteback();
  });
}

/**
 * True if the cluster's previous content is all zeroes and its new host
 * cluster was never written: then its copy-on-write part needs no write, as a
 * file reads zeroes where nothing was written (QEMU skips it too, by a zero
 * write to the file).
 */
function cowIsImplicit(img: Qcow2Image, a: AllocCluster): boolean {
  if (!a.fresh) return false;
  const k = a.old.kind;
  return k === Kind.ZeroPlain || k === Kind.ZeroAlloc || (k === Kind.Unallocated && img.backing() === null);
}

/** Writes one run of new host clusters: COW head, the data, COW tail. */
async function writeRun(img: Qcow2Image, run: HostRun, offset: number, data: Buffer): Promise<void> {
  const cs = img.cs;
  const firstC = run.clusters[0]!;
  const lastC = run.clusters[run.clusters.length - 1]!;
  const runStart = firstC.gc * cs;
  const lastStart = lastC.gc * cs;
  const wStart = Math.max(offset, runStart);
  const wEnd = Math.min(offset + data.length, lastStart + cs);
  const head = cowIsImplicit(img, firstC) ? 0 : wStart - runStart - firstC.from;
  const tail = cowIsImplicit(img, lastC) ? 0 : lastStart + lastC.to - wEnd;
  const body = data.subarray(wStart - offset, wEnd - offset);
  const host = firstC.host + (wStart - runStart) - head;
  if (head === 0 && tail === 0) return img.file.write(host, body);
  const headFrom = wStart - runStart - head;
  const tailFrom = lastC.to - tail;

  const total = head + body.length + tail;
  if (total <= COW_MERGE_LIMIT) {
    const buf = Buffer.allocUnsafe(total);
    await settleAll([
      cowFill(img, firstC, headFrom, buf.subarray(0, head)),
      cowFill(img, lastC, tailFrom, buf.subarray(total - tail)),
    ]);
    body.copy(buf, head);
    return img.file.write(host, buf);
  }
  const tasks: Promise<void>[] = [img.file.write(host + head, body)];
  if (head > 0) {
    const h = Buffer.allocUnsafe(head);
    tasks.push(cowFill(img, firstC, headFrom, h).then(() => img.file.write(host, h)));
  }
  if (tail > 0) {
    const t = Buffer.allocUnsafe(tail);
    tasks.push(cowFill(img, lastC, tailFrom, t).then(() => img.file.write(host + head + body.length, t)));
  }
  await settleAll(tasks);
}

/** Fills `dst` with what the cluster held at `inCluster` before this write. */
async function cowFill(img: Qcow2Image, a: AllocCluster, inCluster: number, dst: Buffer): Promise<void> {
  if (dst.length === 0) return;
  const guest = a.gc * img.cs + inCluster;
  // subclusters of one cluster read differently: read them as the guest sees them (QEMU does too)
  if (img.extL2) return readRange(img, guest, dst);
  switch (a.old.kind) {
    case Kind.Unallocated:
      return readBacking(img, guest, dst);
    case Kind.ZeroPlain:
    case Kind.ZeroAlloc:
      dst.fill(0);
      return;
    case Kind.Normal:
      return img.file.read(hostOfCluster(a.old, a.gc, img.cs) + inCluster, dst);
    case Kind.Compressed: {
      const whole = await readCompressedCluster(img, a.old.comp!, a.gc * img.cs);
      whole.copy(dst, 0, inCluster, inCluster + dst.length);
    }
  }
}
