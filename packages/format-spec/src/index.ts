export * from './errors.js';
export * from './oci-types.js';
export * from './manifest-types.js';
export * from './digest.js';
export * from './signing.js';
export * from './checksums.js';
export * from './schema.js';
