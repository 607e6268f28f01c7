/** Oracle tier: 4096-byte-sector images accepted by the reference tree's sfdisk (util-linux 2.41). */
import { test } from 'node:test';
import { referenceSkipReason } from '../helpers/reference.js';
import { checkTableWithFdisk } from '../helpers/fdisk-check.js';
import { scratchDir } from '../helpers/scratch.js';


test('sfdisk accepts our images (4096-byte sectors)', { skip: referenceSkipReason('trixie') ?? false }, () => {
  checkTableWithFdisk((files) => scratchDir('repart-fdisk-', files), ['--empty=create', '--seed=e2a40bf9-73f1-4278-9160-49c031e7aef8', '--definitions=defs'], 4096);
});
