/**
 * Wires the pieces together: schema runtime, command registry, event bus,
 * monitors; later the block graph, exports and HTTP. Start and shutdown in
 * a fixed order.
 */
import type { Logger } from 'pino';
import { loadSchemaRuntime } from './qapi/schema-runtime.js';
import { Dispatcher } from './qmp/dispatch.js';
import { EventBus } from './qmp/events.js';
import { CommandRegistry } from './qmp/registry.js';
import { registerControlCommands } from './qmp/commands/control.js';
import { MonitorListener, type ListenAddress } from './transports/socket-listener.js';
import type { StreamSessionOptions } from './transports/stream.js';
import { versionInfo } from './version.js';
import { Metrics } from './transports/metrics.js';
import { QMP_CAPABILITIES } from './qmp/session.js';
import { BlockGraph } from './block/graph.js';
import { closeAll } from './block/lifecycle.js';
import { registerBlockCommands } from './qmp/commands/block.js';
import { registerMaintenanceCommands } from './qmp/commands/block-maintenance.js';
import { registerTransactionCommands } from './qmp/commands/transaction.js';
import { registerExportCommands } from './qmp/commands/exports.js';
import { ExportManager } from './block/exports/manager.js';
import { JobManager } from './block/jobs/manager.js';
import { registerJobCommands } from './qmp/commands/jobs.js';
import { registerBlockdevCreate } from './qmp/commands/blockdev-create.js';
import { registerInternalSnapshotCommands } from './qmp/commands/internal-snapshots.js';
import './block/drivers/index.js';

export interface DaemonOptions {
  log: Logger;
  /** Hold monitor greetings until started() (the CLI applies its options first, as QSD). */
  greetAfterStartup?: boolean;
}

export class Daemon {
  readonly log: Logger;
  readonly events = new EventBus();
  readonly registry: CommandRegistry;
  readonly dispatcher: Dispatcher;
  /** Prometheus metrics; the block engine reports nodes, exports, I/O and transactions here. */
  readonly metrics: Metrics;
  readonly graph: BlockGraph;
  readonly exports: ExportManager;
  readonly jobs: JobManager;
  private readonly monitors: MonitorListener[] = [];
  private shutdownPromise: Promise<void> | undefined;
  private readonly shutdownHooks: (() => Promise<void> | void)[] = [];
  /** Resolves once startup options are applied; monitors greet clients only then. */
  private readonly startedGate: Promise<void>;
  private markStarted!: () => void;
  private readonly validatorsLoaded: Promise<void>;
  /** Resolves when the daemon has shut down (quit, signal or close()). */
  readonly stopped: Promise<void>;
  private resolveStopped!: () => void;

  constructor(opts: DaemonOptions) {
    this.log = opts.log;
    this.registry = new CommandRegistry(loadSchemaRuntime());
    this.dispatcher = new Dispatcher(this.registry);
    this.metrics = new Metrics((name) => this.registry.get(name) !== undefined);
    this.dispatcher.observer = (command, reply, startedAt) =>
      this.metrics.commandDone(command, reply.error?.class ?? 'ok', (performance.now() - startedAt) / 1000);
    this.stopped = new Promise((resolve) => (this.resolveStopped = resolve));
    this.startedGate = new Promise((resolve) => (this.markStarted = resolve));
    // loading overlaps with the I/O of startup options
    this.validatorsLoaded = (this.registry.schema.warmUp?.() ?? Promise.resolve()).catch((err: unknown) => {
      this.log.error({ err }, 'precompiled validators failed to load; the schema walker validates alone');
    });
    if (!opts.greetAfterStartup) this.started();
    this.graph = new BlockGraph(this.log.child({ component: 'block' }));
    this.graph.emit = (event, data) => this.events.emit(event, data);
    this.metrics.setBlockSources({
      nodes: () => this.graph.size,
      exports: () => this.exports.list().length,
      inflightIo: () => {
        let n = 0;
        for (const b of [...this.graph.drives.values(), ...this.graph.anonymous]) n += b.inFlight.count;
        return n;
      },
    });
    registerControlCommands(this.registry, { beforeQuit: () => this.exports.shutdown() });
    registerBlockCommands(this.registry, this.graph);
    registerMaintenanceCommands(this.registry, this.graph);
    registerTransactionCommands(this.registry, this.graph, {
      committed: () => this.metrics.transaction('committed'),
      aborted: () => this.metrics.transaction('aborted'),
    });
    this.exports = new ExportManager(this.graph, this.events, this.log.child({ component: 'exports' }), {
      bytes: (id, op, n) => (op === 'read' ? this.metrics.exportRead(id, n) : this.metrics.exportWritten(id, n)),
      removed: (id) => this.metrics.exportRemoved(id),
    });
    registerExportCommands(this.registry, this.graph, this.exports);
    this.jobs = new JobManager(this.events, this.log.child({ component: 'jobs' }));
    registerJobCommands(this.registry, this.jobs);
    registerBlockdevCreate(this.registry, this.graph, this.jobs);
    // Jobs end before nodes close (QEMU cancels them all at exit).
    this.onShutdown(() => this.jobs.cancelAll());
    registerInternalSnapshotCommands(this.registry, this.graph);
    this.registry.registerUnsupported((name) => `Command ${name} is not supported by qmpd`);
  }

  /** The greeting every new session gets first. */
  greeting(): unknown {
    return { QMP: { version: versionInfo(), capabilities: [...QMP_CAPABILITIES] } };
  }

  /** Options for a session on monitor `monitorId`; shared by every transport. */
  sessionOptions(monitorId: string, pretty = false): StreamSessionOptions {
    return {
      dispatcher: this.dispatcher,
      events: this.events,
      greeting: this.greeting(),
      monitorId,
      pretty,
      log: this.log.child({ monitor: monitorId }),
      onShutdownRequest: () => setImmediate(() => void this.shutdown()),
    };
  }

  async addMonitor(id: string, address: ListenAddress, pretty: boolean): Promise<MonitorListener> {
    const listener = new MonitorListener(
      id,
      address,
      (sid) => ({ ...this.sessionOptions(sid, pretty), onClose: this.metrics.monitorOpened(address.kind) }),
      this.log,
      undefined,
      this.startedGate,
    );
    await listener.listen();
    this.monitors.push(listener);
    return listener;
  }

  /** Resolves once startup is complete; HTTP and WebSocket wait for it as monitors do. */
  whenStarted(): Promise<void> {
    return this.startedGate;
  }

  /**
   * Startup is complete: monitors start greeting their clients once the
   * precompiled validators are in, so the first commands do not wait for them.
   */
  started(): void {
    void this.validatorsLoaded.then(this.markStarted);
  }

  /** Runs at shutdown, newest first (exports before the graph, and so on). */
  onShutdown(hook: () => Promise<void> | void): void {
    this.shutdownHooks.push(hook);
  }

  shutdown(): Promise<void> {
    this.shutdownPromise ??= this.doShutdown();
    return this.shutdownPromise;
  }

  private async doShutdown(): Promise<void> {
    this.log.info('shutting down');
    for (const hook of [...this.shutdownHooks].reverse()) {
      try {
        await hook();
      } catch (err) {
        this.log.error({ err }, 'shutdown step failed');
      }
    }
    await this.exports.shutdown();
    await this.graph.mutex.run(() => closeAll(this.graph));
    await Promise.all(this.monitors.map((m) => m.close()));
    this.resolveStopped();
  }
}
