/**
 * The mkfs options of a minimized partition, apart from the models (src/plan/minimize/index.ts)
 * so that building a format job does not load them.
 */

/**
 * The mkfs options of a minimized partition: the model's (ext `-N`) before the user's
 * SYSTEMD_REPART_MKFS_OPTIONS_*; if the user sizes inodes (-N, -i, -T) the user's choice stands
 * alone (the model did not assume it; a short model is retried).
 */
export function minimizedMkfsOptions(model: string[] | undefined, user: string[]): string[] {
  if (!model?.length) return user;
  if (user.some((o) => /^-[^-]*[NiT]/.test(o))) return user;
  return [...model, ...user];
}
