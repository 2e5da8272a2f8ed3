/** Anything that holds a block node through an edge: another node, a BlockBackend, a job. */
export interface NodeParent {
  readonly parentKind: 'node' | 'backend' | 'job';
  /** bdrv_child_user_desc(): how permission errors name this user. */
  describeUser(): string;
}
