// Webhook bodies from spooled event JSON, by string assembly (the events are serialized once).
//   json:        [event, event, ...]                      application/json
//   cloudevents: [{specversion, id, source, type, time,   application/cloudevents-batch+json
//                  datacontenttype, data: event}, ...]   (CloudEvents 1.0 JSON batch format)
//   alertmanager: Alertmanager v2 alerts (formats/alertmanager.ts)  application/json
//   slack:        Slack incoming-webhook Block Kit message (formats/slack.ts)  application/json
//   otlp:         OTLP/HTTP logs, JSON encoding (formats/otlp.ts)    application/json
//   jira:         Jira REST v2 create-issue body, one issue per batch (formats/jira.ts)  application/json
import { CLOUDEVENTS_TYPE, EVENT_SCHEMA } from './schema.js';
import { alertmanagerBody } from './formats/alertmanager.js';
import { jiraBody, type JiraOptions } from './formats/jira.js';
import { otlpLogsBody } from './formats/otlp.js';
import { slackBody } from './formats/slack.js';

export type BodyFormat = 'json' | 'cloudevents' | 'alertmanager' | 'otlp' | 'slack' | 'jira';
export const BODY_FORMATS: readonly BodyFormat[] = ['json', 'cloudevents', 'alertmanager', 'otlp', 'slack', 'jira'];

export const CONTENT_TYPES: Record<BodyFormat, string> = {
  json: 'application/json',
  cloudevents: 'application/cloudevents-batch+json',
  alertmanager: 'application/json',
  otlp: 'application/json',
  slack: 'application/json',
  jira: 'application/json',
};

/** Per-format settings a webhook carries (only jira has any today). */
export interface FormatOptions {
  jira?: JiraOptions;
}

// buildEvent writes schema, id and time first; this reads them without parsing the whole event.
const HEAD = /^\{"schema":"[^"]*","id":"([^"\\]+)","time":"([^"\\]+)"/;

function idAndTime(json: string): [string, string] {
  const m = HEAD.exec(json);
  if (m) return [m[1]!, m[2]!];
  const e = JSON.parse(json) as { id?: unknown; time?: unknown };
  return [String(e.id ?? ''), String(e.time ?? new Date().toISOString())];
}

export function formatBody(format: BodyFormat, jsons: readonly string[], source: string, options: FormatOptions = {}): Buffer {
  if (format === 'json') return Buffer.from('[' + jsons.join(',') + ']', 'utf8');
  if (format === 'alertmanager') return Buffer.from(alertmanagerBody(jsons, source), 'utf8');
  if (format === 'slack') return Buffer.from(slackBody(jsons), 'utf8');
  if (format === 'otlp') return Buffer.from(otlpLogsBody(jsons), 'utf8');
  if (format === 'jira') {
    // Config validation guarantees the options; reaching here without them is a programming error.
    if (!options.jira) throw new Error('jira format needs jira options (project key, issue type)');
    return Buffer.from(jiraBody(jsons, options.jira), 'utf8');
  }
  const src = JSON.stringify(source);
  const parts: string[] = new Array(jsons.length);
  for (let i = 0; i < jsons.length; i++) {
    const [id, time] = idAndTime(jsons[i]!);
    parts[i] =
      '{"specversion":"1.0","id":' + JSON.stringify(id) +
      ',"source":' + src +
      ',"type":"' + CLOUDEVENTS_TYPE + '"' +
      ',"time":' + JSON.stringify(time) +
      ',"datacontenttype":"application/json","dataschema":"' + DATASCHEMA + '"' +
      ',"data":' + jsons[i] + '}';
  }
  return Buffer.from('[' + parts.join(',') + ']', 'utf8');
}

const DATASCHEMA = 'urn:' + EVENT_SCHEMA.replace('/', ':');
