// The init container's inbound redirection, as service meshes do it: nat PREROUTING sends every
// inbound TCP connection through the SIDEWALL_INBOUND chain, which REDIRECTs it to Envoy's inbound
// port except for excluded destination ports (Envoy's own ports, Sidewall's admin/probe port,
// ports the pod opts out).
//
// Envoy's own traffic needs no uid rule here: its upstream connections to the app (127.0.0.1 or
// the pod IP) are locally generated, so they traverse nat OUTPUT, never PREROUTING, and we leave
// OUTPUT alone — outbound traffic is not redirected at all.

export const INBOUND_CHAIN = 'SIDEWALL_INBOUND';

export interface RedirectOptions {
  /** Envoy's inbound listener port (the REDIRECT target). */
  envoyInboundPort: number;
  /** Destination ports never redirected (besides envoyInboundPort itself). */
  excludePorts: number[];
}

/** The chain's rules as `iptables -t nat -S SIDEWALL_INBOUND` prints them (after `-N`). */
export function inboundChainRules(o: RedirectOptions): string[] {
  const ports = [...new Set([o.envoyInboundPort, ...o.excludePorts])].sort((a, b) => a - b);
  return [
    ...ports.map((p) => `-A ${INBOUND_CHAIN} -p tcp -m tcp --dport ${p} -j RETURN`),
    `-A ${INBOUND_CHAIN} -p tcp -j REDIRECT --to-ports ${o.envoyInboundPort}`,
  ];
}

/** The jump from PREROUTING, as `iptables -t nat -S PREROUTING` prints it. */
export const PREROUTING_JUMP = `-A PREROUTING -p tcp -j ${INBOUND_CHAIN}`;

/**
 * The init container's shell script. Re-runnable (an init container may be restarted): the chain
 * is flushed and refilled, the PREROUTING jump added only once. Ends by printing the chain.
 */
export function inboundScript(o: RedirectOptions): string {
  const lines = [
    'set -eu',
    `iptables -t nat -N ${INBOUND_CHAIN} 2>/dev/null || iptables -t nat -F ${INBOUND_CHAIN}`,
    ...inboundChainRules(o).map((rule) => `iptables -t nat ${rule}`),
    `iptables -t nat -C ${PREROUTING_JUMP.slice(3)} 2>/dev/null || iptables -t nat ${PREROUTING_JUMP}`,
    `iptables -t nat -S ${INBOUND_CHAIN}`,
  ];
  return lines.join('\n') + '\n';
}
