export * from './errors.js';
export * from './tree/model.js';
export type * from './fs/driver.js';
export { ext4Driver } from './fs/ext4/index.js';
export { btrfsDriver } from './fs/btrfs/index.js';
export { formatInWorkers, closeWorkerPool } from './fs/pool.js';
