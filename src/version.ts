/** Who we are: qmpd's own version, and the QEMU API level whose QMP it speaks. */
import { readFileSync } from 'node:fs';

function readPackageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export const QMPD_VERSION = readPackageVersion();

/** QMP wire compatibility level: QEMU 7.2. */
export const QEMU_API_VERSION = { major: 7, minor: 2, micro: 0 } as const;

/** VersionInfo as query-version and the greeting report it. */
export function versionInfo(): { qemu: { major: number; minor: number; micro: number }; package: string } {
  return {
    // QAPI member order; the encoder prints QEMU's hash order from it
    qemu: { major: QEMU_API_VERSION.major, minor: QEMU_API_VERSION.minor, micro: QEMU_API_VERSION.micro },
    package: `qmpd ${QMPD_VERSION}`,
  };
}
