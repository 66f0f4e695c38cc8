// Path templates for aggregation keys: segments that look like identifiers (numbers, UUIDs,
// long hex strings) become {id}, so /users/42 and /users/43 count as the same target.
const NUMERIC = /^\d+$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const HEX = /^(?=.*\d)[0-9a-f]{8,}$/i; // at least one digit so words like "deadbeefcafe" are still caught but "facade" is not

/** Path without query, identifier-like segments replaced by {id}. */
export function pathTemplate(uri: string): string {
  let end = uri.indexOf('?');
  if (end === -1) end = uri.length;
  const path = uri.slice(0, end);
  const segments = path.split('/');
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i]!;
    if (s !== '' && (NUMERIC.test(s) || UUID.test(s) || HEX.test(s))) segments[i] = '{id}';
  }
  return segments.join('/');
}
