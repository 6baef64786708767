export { createServer } from './create-server';
export type { CreateServerOptions, ServerDeps, TlsMaterial, WebsocketService } from './create-server';
export { createLogger, formatPlatformLine } from './logger';
export type { LoggerOptions } from './logger';
export { DEFAULT_OPTIONS, OPTION_SPECS, OptionError, envName, resolveOptions } from './options';
export type { LogFormat, ServiceOptions } from './options';
export { loadOrCreateCertificate } from './tls';
export * from './events';
