/**
 * Device numbers. The tree stores st_rdev as Linux (glibc and musl, so also the WebAssembly
 * tools) encode it — makedev(major, minor) — whatever the host, because that is what the tools
 * decode with major()/minor() when they write the node into the image. A host's st_rdev is
 * decoded with that host's own rules first: macOS and the BSDs pack major and minor differently.
 * Values are plain numbers (exact below 2^53: majors below 2^21).
 */
const split = (dev: number): { lo: number; hi: number } => ({ lo: dev >>> 0, hi: Math.floor(dev / 2 ** 32) >>> 0 });

/** glibc's makedev. */
export function makedev(major: number, minor: number): number {
  const lo = ((minor & 0xff) | ((major & 0xfff) << 8) | ((minor & 0xfff00) << 12)) >>> 0;
  const hi = (((minor >>> 20) & 0xfff) | (major & 0xfffff000)) >>> 0;
  return hi * 2 ** 32 + lo;
}

export function major(dev: number): number {
  const { lo, hi } = split(dev);
  return (((lo >>> 8) & 0xfff) | (hi & 0xfffff000)) >>> 0;
}

export function minor(dev: number): number {
  const { lo, hi } = split(dev);
  return ((lo & 0xff) | ((lo >>> 12) & 0xfff00) | ((hi & 0xfff) << 20)) >>> 0;
}

/** A host st_rdev (as Node reports it on `platform`) in the tree's (Linux) encoding. */
export function treeRdev(rdev: number, platform: string = process.platform): number {
  const { lo, hi } = split(rdev);
  switch (platform) {
    // Darwin: major in the top 8 bits of 32, minor in the low 24
    case 'darwin':
      return makedev((lo >>> 24) & 0xff, lo & 0xffffff);
    // FreeBSD ≥ 12 (64-bit dev_t): major in bits 8-15 and 40-63, minor in 0-7, 16-31 and 32-39
    case 'freebsd':
      return makedev(((lo >>> 8) & 0xff) | (hi & 0xffffff00), (lo & 0xffff00ff) | ((hi & 0xff) << 8));
    case 'openbsd':
      return makedev((lo >>> 8) & 0xff, (lo & 0xff) | ((lo >>> 8) & 0xffff00));
    case 'netbsd':
      return makedev((lo & 0xfff00) >>> 8, (lo & 0xff) | ((lo & 0xfff00000) >>> 12));
    default: // linux, android: already glibc's encoding; win32 has no device nodes
      return rdev;
  }
}
