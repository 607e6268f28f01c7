/**
 * --version in systemd's shape, because clients parse it: mkosi takes the third whitespace-separated
 * field, strips the parentheses and compares it as a systemd version (it refuses repart below 254).
 * The first line is therefore `systemd <N> (<N>.<minor>-repart-ts-<ours>)`, N being the emulated
 * version (--compat=); the second is systemd's feature line, with what repart-ts itself does.
 */

/** The point releases the oracle runs (Debian sid 262.1, trixie 257.13). */
const POINT: Record<number, string> = { 262: '262.1', 257: '257.13' };

/** Features in systemd's order; "+" only where repart-ts has the capability itself. */
const FEATURES = '-PAM -AUDIT -SELINUX -APPARMOR -IMA -IPE -SMACK -SECCOMP -GNUTLS +OPENSSL -ACL -BLKID -CURL -ELFUTILS -FIDO2 -IDN2 -KMOD '
  + '+LIBCRYPTSETUP -LIBCRYPTSETUP_PLUGINS -LIBFDISK -PCRE2 -PWQUALITY -P11KIT -QRENCODE -TPM2 -BZIP2 +LZ4 +XZ +ZLIB +ZSTD -BPF_FRAMEWORK -BTF -XKBCOMMON -UTMP -LIBARCHIVE';

export function versionText(compat: number, ours: string): string {
  const point = POINT[compat] ?? `${compat}.0`;
  return `systemd ${compat} (${point}-repart-ts-${ours})\n${FEATURES}\n`;
}
