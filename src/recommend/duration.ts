// Durations as the recommender's flags spell them (7d, 24h, 30m, 90s), for the CLI and the controller.
const DURATION = /^(\d+)(s|m|h|d)$/;
const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Milliseconds of `text`, or null when it is not such a duration. */
export function durationMs(text: string): number | null {
  const d = DURATION.exec(text);
  return d ? Number(d[1]) * UNIT_MS[d[2]!]! : null;
}
