export * from './bundle.js';
export * from './checksum.js';
export * from './verify.js';
export * from './inspect.js';
export * from './push.js';
export * from './rewrite.js';
