export { encodeVeritySuperblock, decodeVeritySuperblock, isValidVerityBlockSize, VERITY_SB_SIZE, type VeritySuperblock } from './superblock.js';
export { verityLayout, verityHashBytes, repartVerityHashSize, type VerityLayout, type VerityLevel } from './geometry.js';
export { VerityTreeBuilder, type HashBlockRun } from './tree.js';
export { formatVerityHash, type FileRange, type VerityFormatOptions, type VerityFormatResult } from './format.js';
export { deriveVeritySalt, deriveVerityUuid, verityPartitionUuids } from './derive.js';
