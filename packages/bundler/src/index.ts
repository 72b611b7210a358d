export * from './create.js';
export * from './sources/files.js';
export * from './sources/keys.js';
export * from './spec-file.js';
export * from './baseline/index.js';
