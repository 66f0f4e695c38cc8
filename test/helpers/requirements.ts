// Real components a suite needs (the Envoy binary, root for network namespaces). On a developer's
// machine a missing one skips the suite with the exact way to get it; in CI (CI=true) it fails.
import { execFileSync } from 'node:child_process';
import { ENVOY_INSTALL_HINT, findEnvoy } from './envoy.js';

export const IN_CI = process.env.CI === 'true';

/** null when present, else a sentence saying what is missing and how to get it. */
export function envoyMissing(): string | null {
  return findEnvoy() === null ? `the Envoy binary is missing: ${ENVOY_INSTALL_HINT}` : null;
}

/** null when `ip netns` and iptables can be used (root), else why not. */
export function netnsMissing(): string | null {
  if (process.getuid?.() !== 0) return 'network namespaces need root (run as root, or in the CI container)';
  for (const [cmd, args, pkg] of [['ip', ['netns', 'list'], 'iproute2'], ['iptables', ['--version'], 'iptables']] as const) {
    try {
      execFileSync(cmd, [...args], { stdio: 'ignore', timeout: 10_000 });
    } catch {
      return `\`${cmd}\` is missing or unusable: apt-get install ${pkg}`;
    }
  }
  return null;
}

/**
 * The `skip` option for node:test: false when everything is there; the reason when a component is
 * missing on a dev machine. In CI a missing component throws (the suite fails, never skips).
 */
export function skipUnless(...missing: Array<string | null>): false | string {
  const reasons = missing.filter((m): m is string => m !== null);
  if (reasons.length === 0) return false;
  const text = reasons.join('; ');
  if (IN_CI) throw new Error(`CI=true and a required component is missing: ${text}`);
  return text;
}
