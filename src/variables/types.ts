// Variables: how a rule target (ARGS, REQUEST_HEADERS:Host, TX:/^foo/ ...) reads the transaction.

/** One keyed value of a collection. Keys keep their original case; lookups are case-insensitive. */
export interface KV {
  key: string;
  value: string;
}

/** What a variable definition needs from a transaction (implemented by Transaction). */
export interface VariableSource {
  collection(name: string): readonly KV[];
  txGet(keyLower: string): KV | undefined;
}

export interface VariableDef {
  /** Canonical upper-case name. */
  name: string;
  /** Keyed collection (ARGS, TX, ...) or a single value (REQUEST_URI, ...). */
  keyed: boolean;
  /** Entries of a collection, or a single-element list for a scalar that is set; [] when unset. */
  read(tx: VariableSource): readonly KV[];
  /** True when the value may change during a transaction (no cross-rule caching by variable). */
  dynamic: boolean;
}
