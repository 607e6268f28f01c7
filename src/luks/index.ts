export { encryptPartitionInPlace, validatePartition, type LuksEncryptOptions } from './encrypt.js';
export {
  DEFAULT_DIGEST_ITERATIONS, DEFAULT_KEYSLOT_KDF, DEFAULT_KEYSLOT_PBKDF, formatLuks2, readLuks2, unlockLuks2,
  type Luks2Format, type Luks2FormatOptions, type Luks2KeyslotKdf, type Luks2Pbkdf, type Luks2Unlocked,
} from './container.js';
export { argon2, type Argon2Params, type Argon2Type } from './argon2.js';
export { LuksError, type LuksReason } from './errors.js';
export { decodeLuks2Header, encodeLuks2Header, type Luks2BinaryHeader } from './header.js';
export {
  LUKS2_DATA_OFFSET, LUKS2_HEADER_SIZE, LUKS2_KEEP_FREE, LUKS2_KEYSLOTS_OFFSET, LUKS2_KEYSLOTS_SIZE,
  luksLabel, luksPlaintextWindow, type PlaintextWindow,
} from './layout.js';
export { decodeLuks2Json, encodeLuks2Json, type Luks2Metadata } from './metadata.js';
export { afMerge, afSplit } from './af.js';
export { xtsSectors } from './xts.js';
