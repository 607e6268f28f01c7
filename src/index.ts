export * from './errors.js';
export * from './tree/model.js';
export type * from './fs/driver.js';
export * from './compress/index.js';
