/**
 * A job (QEMU's Job, job.c): background work whose body runs as an async
 * function beside the monitor, with QEMU's status machine, its verbs, pause
 * counting (user pauses and drained sections) and cancellation. The steps
 * after the body (waiting → pending → finalize → concluded → null) run
 * synchronously, so their events come out in one burst, as QEMU's do.
 *
 * The body cooperates the way a QEMU coroutine does: it parks at pausePoint()
 * while paused, and looks at `cancelRequested` where it can stop early.
 */
import type { JobInfo, JobType } from '../../qapi/generated/types.js';
import { QmpError, toQmpError } from '../../qmp/error.js';
import type { JobDriver, JobHost, JobOptions } from './driver.js';
import { CANCELLED_TEXT, jobErrors } from './errors.js';
import { transitionAllowed, verbAllowed, type JobStatus, type JobVerb } from './status.js';

export type { JobDriver, JobHost, JobOptions };

export class Job {
  status: JobStatus = 'undefined';
  readonly autoFinalize: boolean;
  readonly autoDismiss: boolean;
  /** A job is created paused; start() takes that pause away. */
  private pauseCount = 1;
  private userPaused = false;
  /** Parked in a pause point. */
  private parkedPaused = true;
  /** The body is executing rather than parked (query-block-jobs 'busy'). */
  busy = false;
  private cancelled = false;
  private forceCancel = false;
  private started = false;
  /** The body has returned (QEMU's deferred_to_main_loop). */
  private deferred = false;
  private aborting = false;
  private failed = false;
  private errorText: string | undefined;
  progressCurrent = 0;
  progressTotal = 0;
  private wake: (() => void) | undefined;
  private releaseMonitor!: () => void;
  /** Resolves when the command that started the job may reply (see yieldToMonitor). */
  readonly monitorReleased: Promise<void>;
  private resolveFinished!: () => void;
  /** Resolves when the job has concluded: its body is over and nothing of it runs any more. */
  readonly finished: Promise<void>;

  constructor(
    protected readonly host: JobHost,
    readonly id: string,
    protected readonly driver: JobDriver,
    opts: JobOptions = {},
  ) {
    this.autoFinalize = opts.autoFinalize ?? true;
    this.autoDismiss = opts.autoDismiss ?? true;
    this.monitorReleased = new Promise((resolve) => (this.releaseMonitor = resolve));
    this.finished = new Promise((resolve) => (this.resolveFinished = resolve));
    host.add(this);
    this.transition('created');
  }

  get type(): JobType {
    return this.driver.type;
  }

  /** job_cancel_requested() */
  get cancelRequested(): boolean {
    return this.cancelled;
  }

  /** job_is_cancelled(): a forced cancel, which makes the job fail with ECANCELED. */
  get isCancelled(): boolean {
    return this.cancelled && this.forceCancel;
  }

  get isPaused(): boolean {
    return this.pauseCount > 0;
  }

  /** The error query-jobs shows, once the job has failed. */
  get error(): string | undefined {
    return this.failed ? (this.errorText ?? CANCELLED_TEXT) : undefined;
  }

  info(): JobInfo {
    const info: JobInfo = {
      id: this.id,
      type: this.type,
      status: this.status,
      'current-progress': this.progressCurrent,
      'total-progress': this.progressTotal,
    };
    const error = this.error;
    if (error !== undefined) info.error = error;
    return info;
  }

  // --- the body's side -----------------------------------------------------

  start(): void {
    this.started = true;
    this.pauseCount--;
    this.busy = true;
    this.parkedPaused = false;
    this.transition('running');
    void this.body();
  }

  /**
   * Where QEMU's coroutine would first yield for I/O: from here on the command
   * that started the job replies, and later events follow its reply. Checks
   * made before this point fail the job before the reply, as in QSD.
   */
  yieldToMonitor(): void {
    this.releaseMonitor();
  }

  /** job_pause_point(): parks while paused, unless the job is being cancelled. */
  async pausePoint(): Promise<void> {
    if (this.pauseCount === 0 || this.isCancelled) return;
    const resumeTo = this.status;
    this.transition(resumeTo === 'ready' ? 'standby' : 'paused');
    this.parkedPaused = true;
    await this.yield();
    this.parkedPaused = false;
    this.transition(resumeTo);
  }

  /** Parks the body until something enters the job (resume, cancel, a driver's wake-up). */
  async yield(): Promise<void> {
    this.busy = false;
    await new Promise<void>((resolve) => (this.wake = resolve));
    this.busy = true;
  }

  /** job_enter(): wakes a parked body. */
  enter(): void {
    if (!this.started || this.deferred || this.busy) return;
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  /** For jobs that wait for job-complete (mirror): running → ready. */
  transitionToReady(): void {
    this.transition('ready');
    this.onReady();
  }

  setProgressRemaining(remaining: number): void {
    this.progressTotal = this.progressCurrent + remaining;
  }

  progress(done: number): void {
    this.progressCurrent += done;
  }

  // --- internal pauses (drained sections) ----------------------------------

  /** job_pause(): one more reason to pause; the body parks at its next pause point. */
  pause(): void {
    this.pauseCount++;
    if (!this.parkedPaused) this.enter();
  }

  /** job_resume() */
  resume(): void {
    if (this.pauseCount <= 0) throw new Error(`job ${this.id} resumed more often than paused`);
    this.pauseCount--;
    if (this.pauseCount === 0) this.enter();
  }

  // --- verbs (QMP) -----------------------------------------------------------

  userPause(): void {
    this.applyVerb('pause');
    if (this.userPaused) throw jobErrors.alreadyPaused();
    this.userPaused = true;
    this.pause();
  }

  userResume(): void {
    if (!this.userPaused || this.pauseCount <= 0) throw jobErrors.notPaused();
    this.applyVerb('resume');
    this.userPaused = false;
    this.resume();
  }

  get isUserPaused(): boolean {
    return this.userPaused;
  }

  userCancel(force: boolean): void {
    this.applyVerb('cancel');
    this.cancel(force);
  }

  complete(): void {
    this.applyVerb('complete');
    if (this.cancelRequested || !this.driver.complete) throw jobErrors.cannotComplete(this.id);
    this.driver.complete(this);
  }

  finalize(): void {
    this.applyVerb('finalize');
    this.doFinalize();
  }

  dismiss(): void {
    this.applyVerb('dismiss');
    this.doDismiss();
  }

  /** job_apply_verb() */
  applyVerb(verb: JobVerb): void {
    if (!verbAllowed(verb, this.status)) throw jobErrors.verbRefused(this.id, this.status, verb);
  }

  /** job_cancel(): also used without the verb check (daemon shutdown). */
  cancel(force: boolean): void {
    if (this.status === 'concluded') {
      this.doDismiss();
      return;
    }
    this.cancelAsync(force);
    if (!this.started) this.completed();
    else if (this.deferred) {
      if (this.isCancelled) this.abortAll();
    } else this.enter();
  }

  // --- completion (job_exit and what follows) -------------------------------

  private async body(): Promise<void> {
    let failure: unknown;
    try {
      await this.pausePoint();
      await this.driver.run(this);
    } catch (err) {
      failure = err;
    }
    this.deferred = true;
    this.busy = false;
    if (failure !== undefined) {
      this.failed = true;
      this.errorText = toQmpError(failure).desc;
      if (!(failure instanceof QmpError)) this.host.log.error({ err: failure, job: this.id }, 'job failed unexpectedly');
    }
    this.completed();
    this.releaseMonitor();
  }

  private cancelAsync(force: boolean): void {
    const forced = this.driver.cancel ? this.driver.cancel(this, force) : true;
    if (this.userPaused) {
      this.userPaused = false;
      this.pauseCount--;
    }
    // A soft cancel of a job whose body is over changes nothing (it completes normally).
    if (forced || !this.deferred) {
      this.cancelled = true;
      this.forceCancel ||= forced;
    }
  }

  /** job_update_rc(): a cancelled job fails; a failed job is aborting. */
  private updateRc(): boolean {
    if (!this.failed && this.isCancelled) this.failed = true;
    if (this.failed) this.transition('aborting');
    return this.failed;
  }

  /** job_completed() */
  private completed(): void {
    if (this.updateRc()) this.abortAll();
    else {
      this.transition('waiting');
      this.transition('pending');
      if (!this.autoFinalize) this.onPending();
      else this.doFinalize();
    }
  }

  /** job_do_finalize(): prepare, then commit or abort. */
  private doFinalize(): void {
    if (!this.failed && this.driver.prepare) {
      try {
        this.driver.prepare(this);
      } catch (err) {
        this.failed = true;
        this.errorText = toQmpError(err).desc;
      }
    }
    if (this.updateRc()) this.abortAll();
    else this.finalizeSingle();
  }

  /** job_completed_txn_abort() for a job alone in its transaction. */
  private abortAll(): void {
    if (this.aborting) return;
    this.aborting = true;
    this.finalizeSingle();
  }

  /** job_finalize_single() */
  private finalizeSingle(): void {
    this.updateRc();
    if (this.failed) this.driver.abort?.(this);
    else this.driver.commit?.(this);
    this.driver.clean?.(this);
    if (this.started) {
      if (this.isCancelled) this.onCancelled();
      else this.onCompleted();
    }
    this.transition('concluded');
    if (this.autoDismiss || !this.started) this.doDismiss();
  }

  private doDismiss(): void {
    this.busy = false;
    this.parkedPaused = false;
    this.deferred = true;
    this.transition('null');
    this.host.remove(this);
  }

  private transition(to: JobStatus): void {
    const from = this.status;
    if (!transitionAllowed(from, to)) throw new Error(`job ${this.id}: transition ${from} → ${to} is not allowed`);
    this.status = to;
    if (from !== to) this.host.emit('JOB_STATUS_CHANGE', { id: this.id, status: to });
    if (to === 'concluded') this.resolveFinished();
  }

  // Block jobs announce these moments with BLOCK_JOB_* events.
  protected onReady(): void {}
  protected onPending(): void {}
  protected onCompleted(): void {}
  protected onCancelled(): void {}
}
