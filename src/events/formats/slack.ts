// Slack incoming-webhook message (Block Kit): a header and one section per event, inside Slack's
// documented limits (header text <= 150 chars, section text <= 3000, <= 50 blocks per message);
// events beyond the block limit are counted in a closing context block.
import type { SecurityEvent } from '../schema.js';

export const SLACK_LIMITS = { header: 150, section: 3000, blocks: 50 };

function cut(text: string, max: number): string {
  return text.length <= max ? text : text.slice(0, max - 1) + '…';
}

/** Slack mrkdwn escaping of &, < and >. */
function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function section(e: SecurityEvent): Record<string, unknown> {
  const where = [e.destination.namespace, e.destination.service ?? e.destination.pod].filter(Boolean).join('/') || e.destination.ip;
  const lines = [
    `*${e.verdict === 'blocked' ? 'Blocked' : 'Detected'}* \`${esc(e.request.method)} ${esc(e.request.host + e.request.path)}\` → *${esc(where)}*`,
    `score ${e.anomaly_score}${e.severity ? `, ${e.severity}` : ''}${e.count > 1 ? `, ×${e.count}` : ''}, from ${esc(e.source.ip)}, request \`${esc(e.request_id)}\``,
    ...e.rules.map((r) => `• ${r.id} ${esc(r.msg)} — \`${esc(r.matched_var)}\``),
  ];
  return { type: 'section', text: { type: 'mrkdwn', text: cut(lines.join('\n'), SLACK_LIMITS.section) } };
}

export function slackBody(jsons: readonly string[]): string {
  const events = jsons.map((j) => JSON.parse(j) as SecurityEvent);
  const blocked = events.filter((e) => e.verdict === 'blocked').length;
  const title = `Sidewall: ${events.length} security event${events.length === 1 ? '' : 's'} (${blocked} blocked)`;
  const blocks: Array<Record<string, unknown>> = [{ type: 'header', text: { type: 'plain_text', text: cut(title, SLACK_LIMITS.header) } }];
  const room = SLACK_LIMITS.blocks - 2; // header + the closing context
  for (const e of events.slice(0, room)) blocks.push(section(e));
  if (events.length > room) blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `…and ${events.length - room} more` }] });
  return JSON.stringify({ text: title, blocks });
}
