// Member and cluster identity: URL rules, IDs, --initial-cluster, member JSON, the membership state
// machine and the strict-reconfiguration checks.

export * from './cluster.js';
export * from './errors.js';
export * from './ids.js';
export * from './initial-cluster.js';
export * from './member.js';
export * from './reconfig.js';
export * from './urls.js';
