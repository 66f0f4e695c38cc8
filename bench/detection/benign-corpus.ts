// Benign corpus for the detection bench: realistic API traffic whose values look a little like
// attacks — names with apostrophes, prose with SQL words, Markdown and code, addresses, JWTs,
// base64 images, URLs, e-mail addresses, non-English text — each sent the way a legitimate client
// sends it (query, form, JSON, XML, multipart, header, cookie, path). Every blocked item is a
// false positive.
import type { Placement } from './placements.js';

export interface BenignItem {
  name: string;
  value: string;
  placements: Placement[];
}

const NAMES = [
  "O'Brien", "D'Angelo", "Shaquille O'Neal", 'José Álvarez', 'Zoë Saldaña', 'Björk Guðmundsdóttir', '李小龙', 'Мария Иванова',
  'Nguyễn Văn An', 'Søren Kierkegaard', "Conan O'Brien & Andy Richter", 'Jean-Luc Picard', 'Mary-Kate Olsen', 'Dr. Strangelove (or: How I Learned)',
  'محمد عبد الله', 'Ελένη Παπαδοπούλου', 'van der Berg, Jan', "L'Oréal Paris", 'Smith & Wesson', 'AT&T',
];

const PROSE = [
  'Please select the items you want from the list and update your order before Friday.',
  'Drop me a line if the table in the dining room is still available.',
  'Where can I find the union of both sets? I need it for the report.',
  'I would like to insert a note into my order: please deliver after 5pm.',
  'The meeting is at 10:00 or 11:00, whichever works; and bring the slides.',
  "Don't forget: it's 50% off -- today only!",
  'Can you delete my old address and update it to the new one?',
  'We sell chairs, tables & desks; delivery is free over $100.',
  "It's a 1 = 1 match, isn't it? Or is it 2 - 1?",
  'Order #12345 (gift) -- wrap it, please.',
  'My password reset email never arrived; can you help?',
  'The script of the play was excellent and the cast was brilliant.',
  'Use the alert button in the app to notify your team.',
  'Where and when: Sunday, the park, by the old oak tree.',
  'Select your size: S, M, L or XL.',
  'This review is about the execution of the plan, not the plan itself.',
  'Sleep well and wake up refreshed - our mattress guarantee.',
  'From the desk of the CEO: thank you all for a great year.',
  'Replace the filter every 3 months for best results.',
  'I love <3 this product!!! 5/5 would buy again.',
  'Shipping to: the office (3rd floor), ask for Anna.',
  'Type "yes" to confirm; type "no" to cancel.',
  'Is 5 > 3? Yes. Is 2 < 1? No.',
  'Ping me when the build is done, and echo the result to the channel.',
  'cat lovers unite: the best toys for your kitty',
  'The path to success: learn, build, ship, repeat.',
];

const MARKDOWN_AND_CODE = [
  '# Release notes\n\n- Fixed **login** bug\n- Added `--verbose` flag\n\n> Thanks to all contributors!',
  '```js\nconst total = items.reduce((a, b) => a + b.price, 0);\nconsole.log(`Total: ${total}`);\n```',
  '```python\ndef greet(name):\n    return f"Hello, {name}!"\n```',
  'Use `git log --oneline` and then `git rebase -i HEAD~3` to squash.',
  '| Name | Qty |\n|------|-----|\n| Apple | 3 |\n| Pear | 5 |',
  '[Docs](https://docs.example.com/guide#install) and ![logo](https://cdn.example.com/logo.png)',
  'SELECT statements are covered in chapter 4 of the course.',
  'In CSS, use `color: red;` inside a `.warning { }` block.',
  'Template: Hello {{name}}, your order {{order.id}} has shipped.',
  'Run `npm install` then `npm test`; see README.md for details.',
  '* item one\n* item two\n  * nested item\n1. first\n2. second',
  'The regex ^[a-z0-9_-]{3,16}$ validates usernames.',
  'const query = { status: "active", tags: ["a", "b"] };',
  'Use `${HOME}/.config` for user settings on Linux.',
];

const ADDRESSES = [
  '221B Baker Street, London NW1 6XE, United Kingdom',
  '1600 Amphitheatre Pkwy, Mountain View, CA 94043',
  'Unter den Linden 77, 10117 Berlin',
  'Apt. #4B, 350 Fifth Avenue, New York, NY 10118',
  '1-1 Chiyoda, Chiyoda-ku, Tokyo 100-8111, 日本',
  'P.O. Box 1234; Station A / Toronto, ON M5W 1E6',
  'Rua Augusta, 1500 - Consolação, São Paulo - SP, 01304-001',
  "c/o O'Malley's Pub, 12 Main St., Dublin 2",
];

const JWT = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c';
const JWT2 = 'eyJhbGciOiJSUzI1NiIsImtpZCI6IjEyMyJ9.eyJpc3MiOiJodHRwczovL2lkcC5leGFtcGxlLmNvbS8iLCJzdWIiOiJ1c2VyLTQyIiwiYXVkIjoiYXBpIiwic2NvcGUiOiJyZWFkOm9yZGVycyB3cml0ZTpvcmRlcnMiLCJleHAiOjE5MDAwMDAwMDB9.c2lnbmF0dXJlLWJ5dGVzLWhlcmU';
const PNG_1PX = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';
const GIF_1PX = 'R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7';

const TOKENS = [
  JWT, JWT2, `data:image/png;base64,${PNG_1PX}`, `data:image/gif;base64,${GIF_1PX}`, PNG_1PX,
  Buffer.from('{"theme":"dark","lang":"en-GB","tz":"Europe/London"}').toString('base64'),
  Buffer.from('user preferences: compact view, show prices in EUR').toString('base64'),
  Buffer.from('Hello, World! This is a plain text attachment.').toString('base64url'),
  '550e8400-e29b-41d4-a716-446655440000', 'c0ffee00deadbeef0123456789abcdef', 'sk_live_51HqLyjWDarjtT1zdp7dc',
  'AKIAIOSFODNN7EXAMPLE', '01HZX3J7Q9K8M2N4P6R8T0V2W4', 'dGhpcyBpcyBhIHRlc3Q=',
];

const URLS = [
  'https://www.example.com/products?id=42&ref=homepage',
  'https://shop.example.com/search?q=red+shoes&size=9',
  'https://accounts.example.com/oauth/callback?code=abc123&state=xyz',
  'https://cdn.example.com/img/hero-1920x1080.jpg',
  'http://localhost:3000/callback',
  'https://api.github.com/repos/octocat/Hello-World/issues?state=open',
  'mailto:support@example.com?subject=Help%20needed',
  'https://maps.example.com/@51.5074,-0.1278,15z',
  'https://example.com/path/to/page#section-2',
  'ftp://ftp.example.com/pub/releases/v1.2.3.tar.gz',
];

const EMAILS = ['jane.doe@example.com', "o'brien@example.ie", 'user+tag@sub.example.co.uk', 'first.last@例え.jp', 'admin@localhost'];

const OTHER = [
  '+1 (555) 123-4567', '+44 20 7946 0958', '2024-05-17T13:45:00Z', '17/05/2024', '$1,299.99', '€ 49,90', '100%', '-42.5',
  'report_2024-Q1 (final).pdf', 'IMG_20240517_134500.HEIC', 'résumé.docx', 'C:\\Users\\Public\\Documents\\notes.txt', '/home/alice/projects/app',
  'red, green; blue | yellow', 'a && b || c', 'x = y + 1', 'key=value; other=thing', '5 * 3 = 15', '(optional) [required] {maybe}',
  'rock & roll', 'q&a session', '1st, 2nd & 3rd place', 'size: 10" x 12"', "it's", '"quoted text"', 'n/a', '--', '...', '¯\\_(ツ)_/¯', '🎉🚀✨',
  'Straße', 'Ελληνικά', 'русский текст', '中文测试', 'עברית', 'हिन्दी', 'ไทย', '한국어',
  'true', 'false', 'null', '0', '-1', '9007199254740993', '3.14159', 'NaN',
  'SKU-1234-XL', 'ORD-2024-000123', 'v2.3.1-beta+build.5', 'en-US,en;q=0.9',
];

const JSON_DOCS = [
  '{"filter":{"status":"active","created_after":"2024-01-01"},"sort":"-created_at"}',
  '{"items":[{"sku":"A1","qty":2},{"sku":"B2","qty":1}],"note":"leave at the door"}',
  '[1,2,3]', '{"query":"select a plan","page":2}',
];

/** Values shaped like what the layer's open-redirect, shell and traversal-encoding rules look for. */
const LOOKALIKES = [
  '/account/settings?tab=billing', 'https://app.example.com/oauth/callback', 'https://idp.example.com/authorize?client_id=web&redirect_uri=https://app.example.com/cb',
  'http://10.0.0.12:8080/health', 'https://2024.example.com/agenda', '\\\\fileserver.corp.example\\share\\q3.xlsx', 'C:\\new\\notes.txt',
  'which one is better, the red or the blue?', 'sleep 8 hours a night', 'Register & reg add-ons before May', 'use wget or curl to download the file',
  'db.exec("SELECT 1") returns a row', '50%off everything', 'caf%C3%A9 au lait', 'Loading...', 'if (c == 0x2f) return;', 'net income grew 5%',
  '// TODO: tidy this up', 'ftp://anonymous@ftp.example.com/pub',
];

/** Placements a benign value is sent in, rotated so every placement sees every kind of value. */
const ROTATION: Placement[][] = [
  ['query', 'json', 'header'],
  ['form', 'xml', 'cookie'],
  ['multipart', 'path', 'query'],
  ['json', 'header', 'form'],
];

export function benignCorpus(): BenignItem[] {
  const groups: Array<[string, string[]]> = [
    ['name', NAMES], ['prose', PROSE], ['markdown', MARKDOWN_AND_CODE], ['address', ADDRESSES], ['token', TOKENS],
    ['url', URLS], ['email', EMAILS], ['other', OTHER], ['json-doc', JSON_DOCS], ['lookalike', LOOKALIKES],
  ];
  const out: BenignItem[] = [];
  let r = 0;
  for (const [group, values] of groups) {
    values.forEach((value, i) => {
      out.push({ name: `${group}-${i}`, value, placements: ROTATION[r++ % ROTATION.length]! });
    });
  }
  return out;
}

/** Whole benign requests that are not one value in one place (auth headers, typical API calls). */
export interface BenignRequestSpec {
  name: string;
  method: string;
  path: string;
  headers: Array<[string, string]>;
  body?: string;
}

export function benignRequests(): BenignRequestSpec[] {
  return [
    { name: 'bearer-jwt', method: 'GET', path: '/api/v1/orders?page=2&per_page=50', headers: [['authorization', `Bearer ${JWT2}`]] },
    { name: 'basic-auth', method: 'GET', path: '/api/v1/me', headers: [['authorization', 'Basic ' + Buffer.from("alice:p@ss'w0rd;--").toString('base64')]] },
    { name: 'api-key-header', method: 'GET', path: '/api/v1/reports/2024/Q1', headers: [['x-api-key', 'sk_live_51HqLyjWDarjtT1zdp7dc'], ['x-tenant-id', 'acme-corp']] },
    { name: 'client-data-b64', method: 'GET', path: '/api/v1/feed', headers: [['x-client-data', Buffer.from('{"app":"ios","version":"5.2.1","locale":"fr_FR"}').toString('base64')]] },
    { name: 'graphql', method: 'POST', path: '/graphql', headers: [['content-type', 'application/json']], body: JSON.stringify({ query: 'query($id: ID!) { user(id: $id) { name orders(first: 10) { edges { node { id total } } } } }', variables: { id: 'user-42' } }) },
    { name: 'json-image-upload', method: 'POST', path: '/api/v1/avatars', headers: [['content-type', 'application/json']], body: JSON.stringify({ filename: 'me.png', data: PNG_1PX, alt: "Photo of O'Brien" }) },
    { name: 'xml-soap', method: 'POST', path: '/soap/orders', headers: [['content-type', 'text/xml; charset=utf-8'], ['soapaction', '"urn:GetOrder"']], body: '<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><GetOrder xmlns="urn:orders"><id>12345</id><note>Tom &amp; Jerry</note></GetOrder></soap:Body></soap:Envelope>' },
    { name: 'webhook-github', method: 'POST', path: '/hooks/github', headers: [['content-type', 'application/json'], ['x-github-event', 'push'], ['x-hub-signature-256', 'sha256=3f1c2a9e0b7d4c5e6f8a9b0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e']], body: JSON.stringify({ ref: 'refs/heads/main', commits: [{ message: "Fix: don't drop the table header when sorting\n\nSelect the column, then update.", author: { name: "Conan O'Brien" } }] }) },
    { name: 'search-with-operators', method: 'GET', path: '/api/v1/search?q=' + encodeURIComponent('"red shoes" -sandals size:9 OR size:10'), headers: [] },
    { name: 'pagination-cursor', method: 'GET', path: '/api/v1/events?cursor=' + Buffer.from('{"ts":1715953500,"id":"evt_123"}').toString('base64url') + '&limit=100', headers: [] },
  ];
}
