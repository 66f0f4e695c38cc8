// A local Jira REST stand-in implementing POST /rest/api/2/issue and GET /rest/api/2/issue/{key}
// as Jira documents them: JSON only, authentication (Basic email:api-token or a Bearer personal
// access token) checked before anything else (401 with a JSON error), body shape validated the
// way Jira does (400 {"errorMessages": [...], "errors": {field: message}}), 201 {id, key, self} on
// success. `failNext` makes the next requests answer a given status (429 with Retry-After, 503 ...).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface JiraProject {
  key: string;
  issueTypes: string[];
}

export type JiraAuth = { type: 'basic'; username: string; password: string } | { type: 'bearer'; token: string } | null;

export interface CreatedIssue {
  id: string;
  key: string;
  fields: { project: { key: string }; issuetype: { name: string }; summary: string; description: string; labels: string[] };
}

export interface JiraRequestLog {
  method: string;
  path: string;
  status: number;
  authorization: string | undefined;
}

const KNOWN_FIELDS = new Set(['project', 'issuetype', 'summary', 'description', 'labels', 'priority', 'components', 'assignee']);

function validateFields(body: unknown, projects: Map<string, JiraProject>): Record<string, string> | string {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 'Can not deserialize instance of the issue from the request body';
  const f = (body as { fields?: unknown }).fields;
  if (typeof f !== 'object' || f === null || Array.isArray(f)) return 'the request body must have a "fields" object';
  const fields = f as Record<string, unknown>;
  const errors: Record<string, string> = {};
  for (const k of Object.keys(fields)) if (!KNOWN_FIELDS.has(k)) errors[k] = `Field '${k}' cannot be set. It is not on the appropriate screen, or unknown.`;
  const project = fields.project as { key?: unknown } | undefined;
  const p = typeof project?.key === 'string' ? projects.get(project.key) : undefined;
  if (!p) errors.project = 'valid project is required';
  const it = fields.issuetype as { name?: unknown } | undefined;
  if (typeof it?.name !== 'string' || (p && !p.issueTypes.includes(it.name))) errors.issuetype = 'valid issue type is required';
  const s = fields.summary;
  if (typeof s !== 'string' || s.trim() === '') errors.summary = 'You must specify a summary of the issue.';
  else if (s.length > 255) errors.summary = 'Summary must be less than 255 characters.';
  else if (/[\r\n]/.test(s)) errors.summary = 'The summary is invalid because it contains newline characters.';
  if (fields.description !== undefined && (typeof fields.description !== 'string' || fields.description.length > 32_767)) {
    errors.description = 'The entered text is too long. It exceeds the allowed limit of 32,767 characters.';
  }
  if (fields.labels !== undefined) {
    if (!Array.isArray(fields.labels) || !fields.labels.every((l) => typeof l === 'string')) errors.labels = 'labels must be a list of strings';
    else if (fields.labels.some((l: string) => /\s/.test(l) || l.length > 255 || l === '')) errors.labels = 'The label must not contain spaces and must be 1..255 characters.';
  }
  return errors;
}

export async function startJira(options: { projects: JiraProject[]; auth: JiraAuth }) {
  const projects = new Map(options.projects.map((p) => [p.key, p]));
  const issues = new Map<string, CreatedIssue>();
  const log: JiraRequestLog[] = [];
  const failures: Array<{ status: number; headers?: Record<string, string> }> = [];
  let nextId = 10000;
  const counters = new Map<string, number>();

  const authorized = (req: IncomingMessage): boolean => {
    const a = options.auth;
    if (a === null) return true;
    const h = req.headers.authorization ?? '';
    if (a.type === 'basic') return h === 'Basic ' + Buffer.from(`${a.username}:${a.password}`).toString('base64');
    return h === `Bearer ${a.token}`;
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = (req.url ?? '').split('?')[0]!;
      const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
        log.push({ method: req.method ?? '', path, status, authorization: req.headers.authorization });
        res.writeHead(status, { 'content-type': 'application/json;charset=UTF-8', ...headers });
        res.end(body === undefined ? '' : JSON.stringify(body));
      };
      if (!authorized(req)) {
        send(401, { errorMessages: ['You are not authenticated. Authentication required to perform this operation.'], errors: {} }, { 'www-authenticate': 'Basic realm="protected-area"' });
        return;
      }
      const get = /^\/rest\/api\/2\/issue\/([A-Z][A-Z0-9_]*-\d+)$/.exec(path);
      if (req.method === 'GET' && get) {
        const issue = issues.get(get[1]!);
        if (issue) send(200, { ...issue, self: `http://${req.headers.host}/rest/api/2/issue/${issue.id}` });
        else send(404, { errorMessages: ['Issue does not exist or you do not have permission to see it.'], errors: {} });
        return;
      }
      if (path !== '/rest/api/2/issue') return send(404, { errorMessages: ['null for uri'], errors: {} });
      if (req.method !== 'POST') return send(405, { errorMessages: ['Method Not Allowed'], errors: {} });
      const failure = failures.shift();
      if (failure) return send(failure.status, { errorMessages: [`injected ${failure.status}`], errors: {} }, failure.headers);
      if (!String(req.headers['content-type']).startsWith('application/json')) return send(415, { errorMessages: ['Unsupported Media Type'], errors: {} });
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return send(400, { errorMessages: ['Unexpected character in the request body (not JSON)'], errors: {} });
      }
      const v = validateFields(body, projects);
      if (typeof v === 'string') return send(400, { errorMessages: [v], errors: {} });
      if (Object.keys(v).length > 0) return send(400, { errorMessages: [], errors: v });
      const fields = (body as { fields: CreatedIssue['fields'] }).fields;
      const n = (counters.get(fields.project.key) ?? 0) + 1;
      counters.set(fields.project.key, n);
      const id = String(nextId++);
      const key = `${fields.project.key}-${n}`;
      issues.set(key, { id, key, fields: { ...fields, labels: fields.labels ?? [], description: fields.description ?? '' } });
      send(201, { id, key, self: `http://${req.headers.host}/rest/api/2/issue/${id}` });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    base: `http://127.0.0.1:${port}`,
    issues,
    log,
    /** The next POSTs answer these statuses, in order, before validation. */
    failNext: (...f: Array<{ status: number; headers?: Record<string, string> }>) => failures.push(...f),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
