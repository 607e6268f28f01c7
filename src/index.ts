export * from './errors.js';
export * from './tree/model.js';
export type * from './fs/driver.js';
export { buildTree } from './tree/build.js';
export type { TreeSpec, CopyFilesLine } from './tree/build.js';
export { vfatDriver, formatVfat, volumeIdFromUuid, mangleFatLabel } from './fs/vfat/index.js';
export type { VfatOptions, NameMode } from './fs/vfat/index.js';
