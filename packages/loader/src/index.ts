export * from './bundle.js';
export * from './checksum.js';
export * from './verify.js';
export * from './inspect.js';
export * from './push/index.js';
export * from './closure.js';
export * from './rewrite.js';
