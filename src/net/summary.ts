import type { InterfaceReport, NetworkSummary } from './types.ts';

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

/** One line per configured interface: `eth0: 10.0.0.5/24 via 10.0.0.1, dns 10.0.0.1 (dhcp, 0.84 s)`. */
export function describeInterface(report: InterfaceReport): string {
  const parts = [report.addresses.length > 0 ? report.addresses.join(' ') : 'no address'];
  if (report.gateway !== undefined) parts.push(`via ${report.gateway}`);
  const dns = report.nameservers.length > 0 ? `, dns ${report.nameservers.join(' ')}` : '';
  const detail = report.detail === undefined ? '' : `; ${report.detail}`;
  return `${report.name}: ${parts.join(' ')}${dns} (${report.method}, ${seconds(report.elapsedMs)}${detail})`;
}

/** The network phase summary: one headline plus an indented line per interface that is up. */
export function summaryLines(summary: NetworkSummary): string[] {
  const up = summary.interfaces.filter((report) => report.ok);
  const headline =
    up.length === 0
      ? `Network: not configured (${seconds(summary.elapsedMs)})`
      : `Network ready in ${seconds(summary.elapsedMs)}: ${up.map((report) => report.name).join(', ')}`;
  return [headline, ...up.map((report) => `  ${describeInterface(report)}`)];
}

/** For a failed network phase: what every interface tried saw. */
export function failureLines(reports: readonly InterfaceReport[]): string[] {
  if (reports.length === 0) return ['  (no interface was tried)'];
  return reports.map((report) => `  ${report.name} (${report.method}): ${report.detail ?? 'failed'} after ${seconds(report.elapsedMs)}`);
}
