// libinjection's HTML5 tokenizer (libinjection_html5.c), reimplemented in TypeScript.
// libinjection is Copyright (c) 2012-2016 Nick Galbreath and (c) 2021 LibInjection,
// BSD-3-Clause; its licence text is in ./data.ts.
//
// A small subset of the HTML5 tokenization state machine, enough to find tag names, attribute
// names/values and comments in a byte string (one char per byte). Each next() call produces one
// token, described by tokenStart/tokenLen (indexes into the input) and tokenType; nothing is
// allocated per token.

// ---- token types (enum html5_type) -------------------------------------------------------------
export const DATA_TEXT = 0;
export const TAG_NAME_OPEN = 1;
export const TAG_NAME_CLOSE = 2;
export const TAG_NAME_SELFCLOSE = 3;
export const TAG_DATA = 4;
export const TAG_CLOSE = 5;
export const ATTR_NAME = 6;
export const ATTR_VALUE = 7;
export const TAG_COMMENT = 8;
export const DOCTYPE = 9;

/** Token type names as libinjection's test driver prints them. */
export const H5_TYPE_NAMES: readonly string[] = [
  'DATA_TEXT',
  'TAG_NAME_OPEN',
  'TAG_NAME_CLOSE',
  'TAG_NAME_SELFCLOSE',
  'TAG_DATA',
  'TAG_CLOSE',
  'ATTR_NAME',
  'ATTR_VALUE',
  'TAG_COMMENT',
  'DOCTYPE',
];

// ---- initial contexts (enum html5_flags) -------------------------------------------------------
export const DATA_STATE = 0;
export const VALUE_NO_QUOTE = 1;
export const VALUE_SINGLE_QUOTE = 2;
export const VALUE_DOUBLE_QUOTE = 3;
export const VALUE_BACK_QUOTE = 4;

// ---- results (injection_result_t) --------------------------------------------------------------
export const RESULT_FALSE = 0;
export const RESULT_TRUE = 1;
export const RESULT_ERROR = -1;

// ---- tokenizer states (the state functions libinjection stores in h5_state.state) -------------
export const H5_STATE_EOF = 0;
export const H5_STATE_DATA = 1;
export const H5_STATE_TAG_OPEN = 2;
export const H5_STATE_TAG_NAME_CLOSE = 3;
export const H5_STATE_BEFORE_ATTRIBUTE_NAME = 4;
export const H5_STATE_AFTER_ATTRIBUTE_NAME = 5;
export const H5_STATE_BEFORE_ATTRIBUTE_VALUE = 6;
export const H5_STATE_ATTRIBUTE_VALUE_DOUBLE_QUOTE = 7;
export const H5_STATE_ATTRIBUTE_VALUE_SINGLE_QUOTE = 8;
export const H5_STATE_ATTRIBUTE_VALUE_BACK_QUOTE = 9;
export const H5_STATE_AFTER_ATTRIBUTE_VALUE_QUOTED = 10;
export const H5_STATE_SELF_CLOSING_START_TAG = 11;

const CHAR_EOF = -1;
const CHAR_NULL = 0;
const CHAR_BANG = 33;
const CHAR_DOUBLE = 34;
const CHAR_PERCENT = 37;
const CHAR_SINGLE = 39;
const CHAR_DASH = 45;
const CHAR_SLASH = 47;
const CHAR_LT = 60;
const CHAR_EQUALS = 61;
const CHAR_GT = 62;
const CHAR_QUESTION = 63;
const CHAR_RIGHTB = 93;
const CHAR_TICK = 96;

/** strchr(" \t\n\v\f\r", ch) != NULL -- which includes NUL (the terminator). */
function isWhite(ch: number): boolean {
  return ch === 0x20 || (ch >= 0x09 && ch <= 0x0d) || ch === 0;
}

function isAlpha(ch: number): boolean {
  return (ch >= 0x61 && ch <= 0x7a) || (ch >= 0x41 && ch <= 0x5a);
}

/** HTML5 tokenizer state (h5_state_t). Reusable: init() resets it. */
export class H5State {
  s = '';
  len = 0;
  pos = 0;
  isClose = false;
  state = H5_STATE_EOF;
  /** index of the current token in s */
  tokenStart = 0;
  tokenLen = 0;
  tokenType = DATA_TEXT;

  constructor(s = '', flags = DATA_STATE) {
    this.init(s, flags);
  }

  /** libinjection_h5_init */
  init(s: string, flags: number = DATA_STATE): this {
    this.s = s;
    this.len = s.length;
    this.pos = 0;
    this.isClose = false;
    this.tokenStart = 0;
    this.tokenLen = 0;
    this.tokenType = DATA_TEXT;
    switch (flags) {
      case VALUE_NO_QUOTE:
        this.state = H5_STATE_BEFORE_ATTRIBUTE_NAME;
        break;
      case VALUE_SINGLE_QUOTE:
        this.state = H5_STATE_ATTRIBUTE_VALUE_SINGLE_QUOTE;
        break;
      case VALUE_DOUBLE_QUOTE:
        this.state = H5_STATE_ATTRIBUTE_VALUE_DOUBLE_QUOTE;
        break;
      case VALUE_BACK_QUOTE:
        this.state = H5_STATE_ATTRIBUTE_VALUE_BACK_QUOTE;
        break;
      case DATA_STATE:
      default:
        this.state = H5_STATE_DATA;
        break;
    }
    return this;
  }

  /** libinjection_h5_next: RESULT_TRUE with a token, RESULT_FALSE at the end, RESULT_ERROR if broken. */
  next(): number {
    switch (this.state) {
      case H5_STATE_EOF:
        return RESULT_FALSE;
      case H5_STATE_DATA:
        return this.stateData();
      case H5_STATE_TAG_OPEN:
        return this.stateTagOpen();
      case H5_STATE_TAG_NAME_CLOSE:
        return this.stateTagNameClose();
      case H5_STATE_BEFORE_ATTRIBUTE_NAME:
        return this.stateBeforeAttributeName();
      case H5_STATE_AFTER_ATTRIBUTE_NAME:
        return this.stateAfterAttributeName();
      case H5_STATE_BEFORE_ATTRIBUTE_VALUE:
        return this.stateBeforeAttributeValue();
      case H5_STATE_ATTRIBUTE_VALUE_DOUBLE_QUOTE:
        return this.stateAttributeValueQuote(CHAR_DOUBLE);
      case H5_STATE_ATTRIBUTE_VALUE_SINGLE_QUOTE:
        return this.stateAttributeValueQuote(CHAR_SINGLE);
      case H5_STATE_ATTRIBUTE_VALUE_BACK_QUOTE:
        return this.stateAttributeValueQuote(CHAR_TICK);
      case H5_STATE_AFTER_ATTRIBUTE_VALUE_QUOTED:
        return this.stateAfterAttributeValueQuoted();
      case H5_STATE_SELF_CLOSING_START_TAG:
        return this.stateSelfClosingStartTag();
      default:
        return RESULT_ERROR;
    }
  }

  /** The current token's text (for tests and debugging; allocates). */
  tokenText(): string {
    return this.s.substring(this.tokenStart, this.tokenStart + this.tokenLen);
  }

  private setToken(type: number, start: number, len: number): void {
    this.tokenType = type;
    this.tokenStart = start;
    this.tokenLen = len;
  }

  /**
   * h5_skip_white: skips white space (and NUL); returns the next byte or CHAR_EOF. The C function
   * returns a signed char, so byte 0xFF comes back as -1, i.e. as CHAR_EOF.
   */
  private skipWhite(): number {
    const s = this.s;
    while (this.pos < this.len) {
      const ch = s.charCodeAt(this.pos);
      switch (ch) {
        case 0x00: // IE only
        case 0x20:
        case 0x09:
        case 0x0a:
        case 0x0b: // IE only
        case 0x0c:
        case 0x0d: // IE only
          this.pos += 1;
          break;
        default:
          return ch === 0xff ? CHAR_EOF : ch;
      }
    }
    return CHAR_EOF;
  }

  private stateData(): number {
    if (this.len < this.pos) return RESULT_ERROR;
    const idx = this.s.indexOf('<', this.pos);
    if (idx === -1) {
      this.setToken(DATA_TEXT, this.pos, this.len - this.pos);
      this.state = H5_STATE_EOF;
      if (this.tokenLen === 0) return RESULT_FALSE;
    } else {
      this.setToken(DATA_TEXT, this.pos, idx - this.pos);
      this.pos = idx + 1;
      this.state = H5_STATE_TAG_OPEN;
      if (this.tokenLen === 0) return this.stateTagOpen();
    }
    return RESULT_TRUE;
  }

  /** 12.2.4.8 */
  private stateTagOpen(): number {
    if (this.pos >= this.len) return RESULT_FALSE;
    const ch = this.s.charCodeAt(this.pos);
    if (ch === CHAR_BANG) {
      this.pos += 1;
      return this.stateMarkupDeclarationOpen();
    } else if (ch === CHAR_SLASH) {
      this.pos += 1;
      this.isClose = true;
      return this.stateEndTagOpen();
    } else if (ch === CHAR_QUESTION) {
      this.pos += 1;
      return this.stateBogusComment();
    } else if (ch === CHAR_PERCENT) {
      // not in the spec: '<%' comments of IE <= 9 and Safari < 4.0.3
      this.pos += 1;
      return this.stateBogusComment2();
    } else if (isAlpha(ch)) {
      return this.stateTagName();
    } else if (ch === CHAR_NULL) {
      // IE-ism: NUL characters are ignored
      return this.stateTagName();
    }
    // not a tag: the '<' is text
    if (this.pos === 0) return this.stateData();
    this.setToken(DATA_TEXT, this.pos - 1, 1);
    this.state = H5_STATE_DATA;
    return RESULT_TRUE;
  }

  /** 12.2.4.9 */
  private stateEndTagOpen(): number {
    if (this.pos >= this.len) return RESULT_FALSE;
    const ch = this.s.charCodeAt(this.pos);
    if (ch === CHAR_GT) {
      return this.stateData();
    } else if (isAlpha(ch)) {
      return this.stateTagName();
    }
    this.isClose = false;
    return this.stateBogusComment();
  }

  private stateTagNameClose(): number {
    this.isClose = false;
    this.setToken(TAG_NAME_CLOSE, this.pos, 1);
    this.pos += 1;
    this.state = this.pos < this.len ? H5_STATE_DATA : H5_STATE_EOF;
    return RESULT_TRUE;
  }

  /** 12.2.4.10 */
  private stateTagName(): number {
    const s = this.s;
    let pos = this.pos;
    while (pos < this.len) {
      const ch = s.charCodeAt(pos);
      if (ch === 0) {
        // non-standard: NULs are allowed (and ignored by some old browsers) in tag names
        pos += 1;
      } else if (isWhite(ch)) {
        this.setToken(TAG_NAME_OPEN, this.pos, pos - this.pos);
        this.pos = pos + 1;
        this.state = H5_STATE_BEFORE_ATTRIBUTE_NAME;
        return RESULT_TRUE;
      } else if (ch === CHAR_SLASH) {
        this.setToken(TAG_NAME_OPEN, this.pos, pos - this.pos);
        this.pos = pos + 1;
        this.state = H5_STATE_SELF_CLOSING_START_TAG;
        return RESULT_TRUE;
      } else if (ch === CHAR_GT) {
        this.tokenStart = this.pos;
        this.tokenLen = pos - this.pos;
        if (this.isClose) {
          this.pos = pos + 1;
          this.isClose = false;
          this.tokenType = TAG_CLOSE;
          this.state = H5_STATE_DATA;
        } else {
          this.pos = pos;
          this.tokenType = TAG_NAME_OPEN;
          this.state = H5_STATE_TAG_NAME_CLOSE;
        }
        return RESULT_TRUE;
      } else {
        pos += 1;
      }
    }
    this.setToken(TAG_NAME_OPEN, this.pos, this.len - this.pos);
    this.state = H5_STATE_EOF;
    return RESULT_TRUE;
  }

  /** 12.2.4.34 */
  private stateBeforeAttributeName(): number {
    const ch = this.skipWhite();
    switch (ch) {
      case CHAR_EOF:
        return RESULT_FALSE;
      case CHAR_SLASH:
        this.pos += 1;
        return this.stateSelfClosingStartTag();
      case CHAR_GT:
        this.state = H5_STATE_DATA;
        this.setToken(TAG_NAME_CLOSE, this.pos, 1);
        this.pos += 1;
        return RESULT_TRUE;
      default:
        return this.stateAttributeName();
    }
  }

  private stateAttributeName(): number {
    const s = this.s;
    let pos = this.pos + 1;
    while (pos < this.len) {
      const ch = s.charCodeAt(pos);
      if (isWhite(ch)) {
        this.setToken(ATTR_NAME, this.pos, pos - this.pos);
        this.state = H5_STATE_AFTER_ATTRIBUTE_NAME;
        this.pos = pos + 1;
        return RESULT_TRUE;
      } else if (ch === CHAR_SLASH) {
        this.setToken(ATTR_NAME, this.pos, pos - this.pos);
        this.state = H5_STATE_SELF_CLOSING_START_TAG;
        this.pos = pos + 1;
        return RESULT_TRUE;
      } else if (ch === CHAR_EQUALS) {
        this.setToken(ATTR_NAME, this.pos, pos - this.pos);
        this.state = H5_STATE_BEFORE_ATTRIBUTE_VALUE;
        this.pos = pos + 1;
        return RESULT_TRUE;
      } else if (ch === CHAR_GT) {
        this.setToken(ATTR_NAME, this.pos, pos - this.pos);
        this.state = H5_STATE_TAG_NAME_CLOSE;
        this.pos = pos;
        return RESULT_TRUE;
      } else {
        pos += 1;
      }
    }
    // EOF
    this.setToken(ATTR_NAME, this.pos, this.len - this.pos);
    this.state = H5_STATE_EOF;
    this.pos = this.len;
    return RESULT_TRUE;
  }

  /** 12.2.4.36 */
  private stateAfterAttributeName(): number {
    const c = this.skipWhite();
    switch (c) {
      case CHAR_EOF:
        return RESULT_FALSE;
      case CHAR_SLASH:
        this.pos += 1;
        return this.stateSelfClosingStartTag();
      case CHAR_EQUALS:
        this.pos += 1;
        return this.stateBeforeAttributeValue();
      case CHAR_GT:
        return this.stateTagNameClose();
      default:
        return this.stateAttributeName();
    }
  }

  /** 12.2.4.37 */
  private stateBeforeAttributeValue(): number {
    const c = this.skipWhite();
    if (c === CHAR_EOF) {
      this.state = H5_STATE_EOF;
      return RESULT_FALSE;
    }
    if (c === CHAR_DOUBLE) return this.stateAttributeValueQuote(CHAR_DOUBLE);
    if (c === CHAR_SINGLE) return this.stateAttributeValueQuote(CHAR_SINGLE);
    if (c === CHAR_TICK) return this.stateAttributeValueQuote(CHAR_TICK); // non-standard, IE
    return this.stateAttributeValueNoQuote();
  }

  private stateAttributeValueQuote(qchar: number): number {
    // skip the opening quote, except when starting in this state (pos 0): given '><foo we want
    // a 0-length attribute value
    if (this.pos > 0) this.pos += 1;
    const idx = this.s.indexOf(String.fromCharCode(qchar), this.pos);
    if (idx === -1) {
      this.setToken(ATTR_VALUE, this.pos, this.len - this.pos);
      this.state = H5_STATE_EOF;
    } else {
      this.setToken(ATTR_VALUE, this.pos, idx - this.pos);
      this.state = H5_STATE_AFTER_ATTRIBUTE_VALUE_QUOTED;
      this.pos += this.tokenLen + 1;
    }
    return RESULT_TRUE;
  }

  private stateAttributeValueNoQuote(): number {
    const s = this.s;
    let pos = this.pos;
    while (pos < this.len) {
      const ch = s.charCodeAt(pos);
      if (isWhite(ch)) {
        this.setToken(ATTR_VALUE, this.pos, pos - this.pos);
        this.pos = pos + 1;
        this.state = H5_STATE_BEFORE_ATTRIBUTE_NAME;
        return RESULT_TRUE;
      } else if (ch === CHAR_GT) {
        this.setToken(ATTR_VALUE, this.pos, pos - this.pos);
        this.pos = pos;
        this.state = H5_STATE_TAG_NAME_CLOSE;
        return RESULT_TRUE;
      }
      pos += 1;
    }
    // EOF
    this.state = H5_STATE_EOF;
    this.setToken(ATTR_VALUE, this.pos, this.len - this.pos);
    return RESULT_TRUE;
  }

  /** 12.2.4.41 */
  private stateAfterAttributeValueQuoted(): number {
    if (this.pos >= this.len) return RESULT_FALSE;
    const ch = this.s.charCodeAt(this.pos);
    if (isWhite(ch)) {
      this.pos += 1;
      return this.stateBeforeAttributeName();
    } else if (ch === CHAR_SLASH) {
      this.pos += 1;
      return this.stateSelfClosingStartTag();
    } else if (ch === CHAR_GT) {
      this.setToken(TAG_NAME_CLOSE, this.pos, 1);
      this.pos += 1;
      this.state = H5_STATE_DATA;
      return RESULT_TRUE;
    }
    return this.stateBeforeAttributeName();
  }

  /** 12.2.4.43 */
  private stateSelfClosingStartTag(): number {
    if (this.pos >= this.len) return RESULT_FALSE;
    const ch = this.s.charCodeAt(this.pos);
    if (ch === CHAR_GT) {
      if (this.pos <= 0) return RESULT_ERROR;
      this.setToken(TAG_NAME_SELFCLOSE, this.pos - 1, 2);
      this.state = H5_STATE_DATA;
      this.pos += 1;
      return RESULT_TRUE;
    }
    return this.stateBeforeAttributeName();
  }

  /** 12.2.4.44 */
  private stateBogusComment(): number {
    const idx = this.s.indexOf('>', this.pos);
    if (idx === -1) {
      this.setToken(TAG_COMMENT, this.pos, this.len - this.pos);
      this.pos = this.len;
      this.state = H5_STATE_EOF;
    } else {
      this.setToken(TAG_COMMENT, this.pos, idx - this.pos);
      this.pos = idx + 1;
      this.state = H5_STATE_DATA;
    }
    return RESULT_TRUE;
  }

  /** 12.2.4.44 alternative: '<%' ... '%>' */
  private stateBogusComment2(): number {
    const s = this.s;
    let pos = this.pos;
    for (;;) {
      const idx = s.indexOf('%', pos);
      if (idx === -1 || idx + 1 >= this.len) {
        this.setToken(TAG_COMMENT, this.pos, this.len - this.pos);
        this.pos = this.len;
        this.state = H5_STATE_EOF;
        return RESULT_TRUE;
      }
      if (s.charCodeAt(idx + 1) !== CHAR_GT) {
        pos = idx + 1;
        continue;
      }
      // ends in %>
      this.setToken(TAG_COMMENT, this.pos, idx - this.pos);
      this.pos = idx + 2;
      this.state = H5_STATE_DATA;
      return RESULT_TRUE;
    }
  }

  /** 8.2.4.45 */
  private stateMarkupDeclarationOpen(): number {
    const s = this.s;
    const p = this.pos;
    const remaining = this.len - p;
    if (remaining >= 7 && matchesIgnoreCase(s, p, 'DOCTYPE')) {
      return this.stateDoctype();
    } else if (remaining >= 7 && s.startsWith('[CDATA[', p)) {
      // upper case required
      this.pos += 7;
      return this.stateCdata();
    } else if (remaining >= 2 && s.charCodeAt(p) === CHAR_DASH && s.charCodeAt(p + 1) === CHAR_DASH) {
      this.pos += 2;
      return this.stateComment();
    }
    return this.stateBogusComment();
  }

  /**
   * 12.2.4.48 - 12.2.4.51: comments end at EOF, or with '-->' or '-!>' (NULs after the first
   * '-' are skipped).
   */
  private stateComment(): number {
    const s = this.s;
    const end = this.len;
    let pos = this.pos;
    for (;;) {
      const idx = s.indexOf('-', pos);
      // nothing found, or fewer than 3 chars left
      if (idx === -1 || idx > end - 3) {
        this.state = H5_STATE_EOF;
        this.setToken(TAG_COMMENT, this.pos, this.len - this.pos);
        return RESULT_TRUE;
      }
      let offset = 1;
      // skip all NULs
      while (idx + offset < end && s.charCodeAt(idx + offset) === 0) offset += 1;
      if (idx + offset === end) {
        this.state = H5_STATE_EOF;
        this.setToken(TAG_COMMENT, this.pos, this.len - this.pos);
        return RESULT_TRUE;
      }
      let ch = s.charCodeAt(idx + offset);
      if (ch !== CHAR_DASH && ch !== CHAR_BANG) {
        pos = idx + 1;
        continue;
      }
      offset += 1;
      if (idx + offset === end) {
        this.state = H5_STATE_EOF;
        this.setToken(TAG_COMMENT, this.pos, this.len - this.pos);
        return RESULT_TRUE;
      }
      ch = s.charCodeAt(idx + offset);
      if (ch !== CHAR_GT) {
        pos = idx + 1;
        continue;
      }
      offset += 1;
      // ends in --> or -!>
      this.setToken(TAG_COMMENT, this.pos, idx - this.pos);
      this.pos = idx + offset;
      this.state = H5_STATE_DATA;
      return RESULT_TRUE;
    }
  }

  private stateCdata(): number {
    const s = this.s;
    let pos = this.pos;
    for (;;) {
      const idx = s.indexOf(']', pos);
      // nothing found, or fewer than 3 chars left
      if (idx === -1 || idx > this.len - 3) {
        this.state = H5_STATE_EOF;
        this.setToken(DATA_TEXT, this.pos, this.len - this.pos);
        return RESULT_TRUE;
      } else if (s.charCodeAt(idx + 1) === CHAR_RIGHTB && s.charCodeAt(idx + 2) === CHAR_GT) {
        this.state = H5_STATE_DATA;
        this.setToken(DATA_TEXT, this.pos, idx - this.pos);
        this.pos = idx + 3;
        return RESULT_TRUE;
      } else {
        pos = idx + 1;
      }
    }
  }

  /** 8.2.4.52 */
  private stateDoctype(): number {
    this.tokenStart = this.pos;
    this.tokenType = DOCTYPE;
    const idx = this.s.indexOf('>', this.pos);
    if (idx === -1) {
      this.state = H5_STATE_EOF;
      this.tokenLen = this.len - this.pos;
    } else {
      this.state = H5_STATE_DATA;
      this.tokenLen = idx - this.pos;
      this.pos = idx + 1;
    }
    return RESULT_TRUE;
  }
}

/** s[p .. p+upper.length) equals `upper` ignoring ASCII case (letters only in `upper`). */
function matchesIgnoreCase(s: string, p: number, upper: string): boolean {
  for (let i = 0; i < upper.length; i++) {
    const c = s.charCodeAt(p + i);
    const u = upper.charCodeAt(i);
    if (c !== u && c !== u + 0x20) return false;
  }
  return true;
}
