// A transformation maps a byte string (one char per byte, latin1) to a byte string.
// Pure and stateless so the engine can cache results per (value, pipeline prefix).
export type Transformation = (input: string) => string;
