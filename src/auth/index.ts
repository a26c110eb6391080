export * from './errors.js';
export * from './password.js';
export * from './permissions.js';
export * from './store.js';
export * from './tokens.js';
