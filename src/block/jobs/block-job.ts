/**
 * A block job (QEMU's BlockJob, blockjob.c): a job that works on block nodes
 * (mirror, stream, commit, backup). It adds a speed, the block-job-* view of
 * the job, and the BLOCK_JOB_* events; it is the parent of the nodes it uses,
 * so a drained section on them pauses it (child_job's drained_begin).
 */
import type { BlockJobInfo } from '../../qapi/generated/types.js';
import type { NodeParent } from '../parent.js';
import { jobErrors } from './errors.js';
import { Job, type JobDriver, type JobHost, type JobOptions } from './job.js';
import { isReadyStatus } from './status.js';

export interface BlockJobDriver extends JobDriver<BlockJob> {
  /** A new speed limit (bytes per second, 0 = none) takes effect. */
  setSpeed?(job: BlockJob, speed: number): void;
}

export interface BlockJobOptions extends JobOptions {
  speed?: number;
}

export class BlockJob extends Job implements NodeParent {
  readonly parentKind = 'job';
  speed: number;

  constructor(
    host: JobHost,
    id: string,
    private readonly blockDriver: BlockJobDriver,
    opts: BlockJobOptions = {},
  ) {
    if ((opts.speed ?? 0) < 0) throw jobErrors.negativeSpeed();
    super(host, id, blockDriver, opts);
    this.speed = opts.speed ?? 0;
  }

  /** bdrv_child_user_desc() for a job: "mirror job 'm'" in permission errors. */
  describeUser(): string {
    return `${this.type} job '${this.id}'`;
  }

  /** block_job_set_speed() */
  setSpeed(speed: number): void {
    this.applyVerb('set-speed');
    if (speed < 0) throw jobErrors.negativeSpeed();
    if (speed === this.speed) return;
    this.speed = speed;
    this.blockDriver.setSpeed?.(this, speed);
    this.enter();
  }

  /** block-job-cancel: unlike job-cancel, a soft cancel of a user-paused job is refused. */
  blockJobCancel(force: boolean): void {
    if (this.isUserPaused && !force) throw jobErrors.blockJobPaused(this.id);
    this.userCancel(force);
  }

  /** A node this job uses is drained: the job pauses at its next pause point. */
  drainedBegin(): void {
    this.pause();
  }

  drainedEnd(): void {
    this.resume();
  }

  /** block_job_query() */
  blockInfo(): BlockJobInfo {
    const info: BlockJobInfo = {
      type: this.type,
      device: this.id,
      len: this.progressTotal,
      offset: this.progressCurrent,
      busy: this.busy,
      paused: this.isPaused,
      speed: this.speed,
      'io-status': 'ok',
      ready: isReadyStatus(this.status),
      status: this.status,
      'auto-finalize': this.autoFinalize,
      'auto-dismiss': this.autoDismiss,
    };
    const error = this.error;
    if (error !== undefined) info.error = error;
    return info;
  }

  /** The members BLOCK_JOB_READY, _CANCELLED and _COMPLETED share, in the schema's order. */
  private progressData(): Record<string, unknown> {
    return { type: this.type, device: this.id, len: this.progressTotal, offset: this.progressCurrent, speed: this.speed };
  }

  protected override onReady(): void {
    this.host.emit('BLOCK_JOB_READY', this.progressData());
  }

  /** Only jobs with auto-finalize off announce that they wait for job-finalize. */
  protected override onPending(): void {
    this.host.emit('BLOCK_JOB_PENDING', { type: this.type, id: this.id });
  }

  protected override onCompleted(): void {
    const data = this.progressData();
    const error = this.error;
    if (error !== undefined) data.error = error;
    this.host.emit('BLOCK_JOB_COMPLETED', data);
  }

  protected override onCancelled(): void {
    this.host.emit('BLOCK_JOB_CANCELLED', this.progressData());
  }
}
