/**
 * Whose the source files are, as systemd-repart would be told in the same environment.
 *
 * nixpkgs' image builder runs `unshare --map-root-user fakeroot systemd-repart …`. fakeroot fakes
 * stat() through LD_PRELOAD: every file its daemon has no record of is reported as 0:0 (its
 * default "unknown-is-root" mode; `fakeroot -u` reports the real owner instead). Node's file
 * system calls go through libuv, which issues the statx system call itself, so the preload never
 * sees them: without this module repart-ts read the real owners — in a user namespace, 65534
 * (nobody) for every uid that is not the invoking user's — where systemd-repart and every tool it
 * runs see root. Measured (test/oracle/fakeroot.test.ts): under `unshare --map-root-user
 * fakeroot`, systemd-repart 262 writes 0:0 for files of the invoking user, of other users and
 * for what it creates itself.
 *
 * Owners fakeroot's daemon *does* know (chowned earlier in the same session, or loaded with
 * `fakeroot -i`) cannot be asked for without the preload; nixpkgs starts a fresh session, and a
 * tar archive source (CopyArchive=) is the way to give a tree its own owners.
 */

/** 'root': every source owner becomes 0:0; 'source': owners as the host reports them. */
export type OwnerPolicy = 'root' | 'source';

export interface OwnerDecision {
  policy: OwnerPolicy;
  /** why, for the one notice a run prints (undefined: nothing to say) */
  reason?: string;
}

/** fakeroot's preload is active in this process's environment (both what its script exports). */
export function underFakeroot(env: NodeJS.ProcessEnv): boolean {
  const preload = env.LD_PRELOAD ?? '';
  return !!env.FAKEROOTKEY && /(^|[/:\s])libfakeroot[^/:\s]*\.so/.test(preload);
}

/**
 * The owner policy of a run: explicit (the caller's mapOwnersToRoot, then REPART_TS_OWNERS=root|
 * source) wins over what the environment says (fakeroot detected).
 */
export function ownerPolicy(env: NodeJS.ProcessEnv, explicit?: boolean): OwnerDecision {
  if (explicit !== undefined) return { policy: explicit ? 'root' : 'source' };
  const forced = env.REPART_TS_OWNERS;
  if (forced === 'root' || forced === 'source') return { policy: forced };
  if (underFakeroot(env)) {
    if (env.FAKED_MODE === 'unknown-is-real') return { policy: 'source' };
    return {
      policy: 'root',
      reason: 'fakeroot detected: source files are owned by root (0:0) in the image, as fakeroot shows them to systemd-repart (REPART_TS_OWNERS=source keeps the real owners)',
    };
  }
  return { policy: 'source' };
}
