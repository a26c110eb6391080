// Public surface of the server configuration module.
export { parseServerConfig, verifyingError, type ParseOptions } from './parse-server-config.js';
export { CAIRN_VERSION, API_VERSION, helpText, versionText } from './help.js';
export type { ConfigResult, ServerConfig, TlsConfig, AutoCompaction, LogLevel } from './types.js';
