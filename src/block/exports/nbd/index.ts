/** The NBD server's public surface, for the export layer and QMP commands. */
export type {
  NbdAllocationExtent,
  NbdDepthExtent,
  NbdDirtyBitmapSource,
  NbdDirtyExtent,
  NbdExportBackend,
  NbdRequestKind,
  NbdZeroOptions,
} from './backend.js';
export { errnoError } from './errno.js';
export { NbdServer, type NbdListenAddress, type NbdRemoveMode, type NbdRemoveResult, type NbdServerOptions } from './server.js';
