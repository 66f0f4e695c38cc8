// libinjection XSS detection (libinjection_xss.c), reimplemented in TypeScript.
// libinjection is Copyright (c) 2012-2016 Nick Galbreath and (c) 2021 LibInjection,
// BSD-3-Clause; its licence text is in ./data.ts.
//
// The input (a byte string) is tokenized with the HTML5 tokenizer in five contexts (as HTML text,
// and as an unquoted / single / double / back-quoted attribute value); it is XSS if any context
// shows a blacklisted tag, an event-handler or blacklisted attribute, a javascript:/data:/...
// URL in a URL attribute, a style attribute, a DOCTYPE, or an IE-specific comment form.
import {
  ATTR_NAME,
  ATTR_VALUE,
  DATA_STATE,
  DOCTYPE,
  H5State,
  RESULT_TRUE,
  TAG_COMMENT,
  TAG_NAME_OPEN,
  VALUE_BACK_QUOTE,
  VALUE_DOUBLE_QUOTE,
  VALUE_NO_QUOTE,
  VALUE_SINGLE_QUOTE,
} from './html5.js';

/** attribute_t */
export const ATTR_TYPE_NONE = 0;
export const ATTR_TYPE_BLACK = 1; // ban always
export const ATTR_TYPE_URL = 2; // value takes a URL-like object
export const ATTR_TYPE_STYLE = 3;
export const ATTR_TYPE_INDIRECT = 4; // attribute *name* is given in the *value*

/** Event names (after the "on" prefix), mostly from WebKit's EventNames.h. Prefix match. */
const BLACKATTREVENT: readonly string[] = [
  'ABORT', 'ACTIVATE', 'ACTIVE', 'ADDSOURCEBUFFER', 'ADDSTREAM', 'ADDTRACK', 'AFTERPRINT',
  'ANIMATIONCANCEL', 'ANIMATIONEND', 'ANIMATIONITERATION', 'ANIMATIONSTART', 'AUDIOEND',
  'AUDIOPROCESS', 'AUDIOSTART', 'AUTOCOMPLETEERROR', 'AUTOCOMPLETE', 'BEFOREACTIVATE',
  'BEFORECOPY', 'BEFORECUT', 'BEFOREINPUT', 'BEFORELOAD', 'BEFOREPASTE', 'BEFOREPRINT',
  'BEFOREUNLOAD', 'BEGINEVENT', 'BLOCKED', 'BLUR', 'BOUNDARY', 'BUFFEREDAMOUNTLOW', 'CACHED',
  'CANCEL', 'CANPLAYTHROUGH', 'CANPLAY', 'CHANGE', 'CHARGINGCHANGE', 'CHARGINGTIMECHANGE',
  'CHECKING', 'CLICK', 'CLOSE', 'COMPLETE', 'COMPOSITIONEND', 'COMPOSITIONSTART',
  'COMPOSITIONUPDATE', 'CONNECTING', 'CONNECTIONSTATECHANGE', 'CONNECT', 'CONTEXTMENU',
  'CONTROLLERCHANGE', 'COPY', 'CUECHANGE', 'CUT', 'DATAAVAILABLE', 'DATACHANNEL', 'DBLCLICK',
  'DEVICECHANGE', 'DEVICEMOTION', 'DEVICEORIENTATION', 'DISCHARGINGTIMECHANGE', 'DISCONNECT',
  'DOMACTIVATE', 'DOMCHARACTERDATAMODIFIED', 'DOMCONTENTLOADED', 'DOMFOCUSIN', 'DOMFOCUSOUT',
  'DOMNODEINSERTEDINTODOCUMENT', 'DOMNODEINSERTED', 'DOMNODEREMOVEDFROMDOCUMENT',
  'DOMNODEREMOVED', 'DOMSUBTREEMODIFIED', 'DOWNLOADING', 'DRAGEND', 'DRAGENTER', 'DRAGLEAVE',
  'DRAGOVER', 'DRAGSTART', 'DRAG', 'DROP', 'DURATIONCHANGE', 'EMPTIED', 'ENCRYPTED', 'ENDED',
  'ENDEVENT', 'END', 'ENTERPICTUREINPICTURE', 'ENTER', 'ERROR', 'EXIT', 'FETCH', 'FINISH',
  'FOCUSIN', 'FOCUSOUT', 'FOCUS', 'FORMCHANGE', 'FORMINPUT', 'GAMEPADCONNECTED',
  'GAMEPADDISCONNECTED', 'GESTURECHANGE', 'GESTUREEND', 'GESTURESCROLLEND', 'GESTURESCROLLSTART',
  'GESTURESCROLLUPDATE', 'GESTURESTART', 'GESTURETAPDOWN', 'GESTURETAP', 'GOTPOINTERCAPTURE',
  'HASHCHANGE', 'ICECANDIDATEERROR', 'ICECANDIDATE', 'ICECONNECTIONSTATECHANGE',
  'ICEGATHERINGSTATECHANGE', 'INACTIVE', 'INPUTSOURCESCHANGE', 'INPUT', 'INSTALL', 'INVALID',
  'KEYDOWN', 'KEYPRESS', 'KEYSTATUSESCHANGE', 'KEYUP', 'LANGUAGECHANGE', 'LEAVEPICTUREINPICTURE',
  'LEVELCHANGE', 'LOADEDDATA', 'LOADEDMETADATA', 'LOADEND', 'LOADINGDONE', 'LOADINGERROR',
  'LOADING', 'LOADSTART', 'LOAD', 'LOSTPOINTERCAPTURE', 'MARK', 'MERCHANTVALIDATION',
  'MESSAGEERROR', 'MESSAGE', 'MOUSEDOWN', 'MOUSEENTER', 'MOUSELEAVE', 'MOUSEMOVE', 'MOUSEOUT',
  'MOUSEOVER', 'MOUSEUP', 'MOUSEWHEEL', 'MUTE', 'NEGOTIATIONNEEDED', 'NEXTTRACK', 'NOMATCH',
  'NOUPDATE', 'OBSOLETE', 'OFFLINE', 'ONLINE', 'OPEN', 'ORIENTATIONCHANGE', 'OVERCONSTRAINED',
  'OVERFLOWCHANGED', 'PAGEHIDE', 'PAGESHOW', 'PASTE', 'PAUSE', 'PAYERDETAILCHANGE',
  'PAYMENTAUTHORIZED', 'PAYMENTMETHODCHANGE', 'PAYMENTMETHODSELECTED', 'PLAYING', 'PLAY',
  'POINTERCANCEL', 'POINTERDOWN', 'POINTERENTER', 'POINTERLEAVE', 'POINTERLOCKCHANGE',
  'POINTERLOCKERROR', 'POINTERMOVE', 'POINTEROUT', 'POINTEROVER', 'POINTERUP', 'POPSTATE',
  'PREVIOUSTRACK', 'PROCESSORERROR', 'PROGRESS', 'PROPERTYCHANGE', 'RATECHANGE',
  'READYSTATECHANGE', 'REJECTIONHANDLED', 'REMOVESOURCEBUFFER', 'REMOVESTREAM', 'REMOVETRACK',
  'REMOVE', 'RESET', 'RESIZE', 'RESOURCETIMINGBUFFERFULL', 'RESULT', 'RESUME', 'SCROLL', 'SEARCH',
  'SECURITYPOLICYVIOLATION', 'SEEKED', 'SEEKING', 'SELECTEND', 'SELECTIONCHANGE', 'SELECTSTART',
  'SELECT', 'SHIPPINGADDRESSCHANGE', 'SHIPPINGCONTACTSELECTED', 'SHIPPINGMETHODSELECTED',
  'SHIPPINGOPTIONCHANGE', 'SHOW', 'SIGNALINGSTATECHANGE', 'SLOTCHANGE', 'SOUNDEND', 'SOUNDSTART',
  'SOURCECLOSE', 'SOURCEENDED', 'SOURCEOPEN', 'SPEECHEND', 'SPEECHSTART', 'SQUEEZEEND',
  'SQUEEZESTART', 'SQUEEZE', 'STALLED', 'STARTED', 'START', 'STATECHANGE', 'STOP', 'STORAGE',
  'SUBMIT', 'SUCCESS', 'SUSPEND', 'TEXTINPUT', 'TIMEOUT', 'TIMEUPDATE', 'TOGGLE', 'TONECHANGE',
  'TOUCHCANCEL', 'TOUCHEND', 'TOUCHFORCECHANGE', 'TOUCHMOVE', 'TOUCHSTART', 'TRACK',
  'TRANSITIONCANCEL', 'TRANSITIONEND', 'TRANSITIONRUN', 'TRANSITIONSTART', 'UNCAPTUREDERROR',
  'UNHANDLEDREJECTION', 'UNLOAD', 'UNMUTE', 'UPDATEEND', 'UPDATEFOUND', 'UPDATEREADY',
  'UPDATESTART', 'UPDATE', 'UPGRADENEEDED', 'VALIDATEMERCHANT', 'VERSIONCHANGE',
  'VISIBILITYCHANGE', 'VOLUMECHANGE', 'WAITINGFORKEY', 'WAITING', 'WEBGLCONTEXTCHANGED',
  'WEBGLCONTEXTCREATIONERROR', 'WEBGLCONTEXTLOST', 'WEBGLCONTEXTRESTORED', 'WEBKITANIMATIONEND',
  'WEBKITANIMATIONITERATION', 'WEBKITANIMATIONSTART', 'WEBKITBEFORETEXTINSERTED',
  'WEBKITBEGINFULLSCREEN', 'WEBKITCURRENTPLAYBACKTARGETISWIRELESSCHANGED', 'WEBKITENDFULLSCREEN',
  'WEBKITFULLSCREENCHANGE', 'WEBKITFULLSCREENERROR', 'WEBKITKEYADDED', 'WEBKITKEYERROR',
  'WEBKITKEYMESSAGE', 'WEBKITMOUSEFORCECHANGED', 'WEBKITMOUSEFORCEDOWN', 'WEBKITMOUSEFORCEUP',
  'WEBKITMOUSEFORCEWILLBEGIN', 'WEBKITNEEDKEY', 'WEBKITNETWORKINFOCHANGE',
  'WEBKITPLAYBACKTARGETAVAILABILITYCHANGED', 'WEBKITPRESENTATIONMODECHANGED',
  'WEBKITREGIONOVERSETCHANGE', 'WEBKITREMOVESOURCEBUFFER', 'WEBKITSOURCECLOSE',
  'WEBKITSOURCEENDED', 'WEBKITSOURCEOPEN', 'WEBKITSPEECHCHANGE', 'WEBKITTRANSITIONEND',
  'WEBKITWILLREVEALBOTTOM', 'WEBKITWILLREVEALLEFT', 'WEBKITWILLREVEALRIGHT',
  'WEBKITWILLREVEALTOP', 'WHEEL', 'WRITEEND', 'WRITESTART', 'WRITE', 'ZOOM',
];

/** Attribute names (exact match) and what their value means. */
const BLACKATTR: readonly (readonly [string, number])[] = [
  ['ACTION', ATTR_TYPE_URL], // form
  ['ATTRIBUTENAME', ATTR_TYPE_INDIRECT], // SVG allows indirection of attribute names
  ['BY', ATTR_TYPE_URL], // SVG
  ['BACKGROUND', ATTR_TYPE_URL], // IE6, O11
  ['DATAFORMATAS', ATTR_TYPE_BLACK], // IE
  ['DATASRC', ATTR_TYPE_BLACK], // IE
  ['DYNSRC', ATTR_TYPE_URL], // obsolete img attribute
  ['FILTER', ATTR_TYPE_STYLE], // Opera, SVG inline style
  ['FORMACTION', ATTR_TYPE_URL], // HTML 5
  ['FOLDER', ATTR_TYPE_URL], // only on A tags, IE-only
  ['FROM', ATTR_TYPE_URL], // SVG
  ['HANDLER', ATTR_TYPE_URL], // SVG Tiny, Opera
  ['HREF', ATTR_TYPE_URL],
  ['LOWSRC', ATTR_TYPE_URL], // obsolete img attribute
  ['POSTER', ATTR_TYPE_URL], // Opera 10,11
  ['SRC', ATTR_TYPE_URL],
  ['STYLE', ATTR_TYPE_STYLE],
  ['TO', ATTR_TYPE_URL], // SVG
  ['VALUES', ATTR_TYPE_URL], // SVG
  ['XLINK:HREF', ATTR_TYPE_URL],
];

/** Tag names (exact match); anything starting with SVG or XSL is also black. */
const BLACKTAG: readonly string[] = [
  'APPLET', 'BASE', 'COMMENT', 'EMBED', 'FRAME', 'FRAMESET', 'HANDLER', 'IFRAME', 'IMPORT',
  'ISINDEX', 'LINK', 'LISTENER', 'META', 'NOSCRIPT', 'OBJECT', 'SCRIPT', 'STYLE', 'VMLFRAME',
  'XML', 'XSS',
];

/** The byte at i, or 0 past the end (as if the buffer were NUL-terminated). */
function byteAt(s: string, i: number): number {
  return i < s.length ? s.charCodeAt(i) : 0;
}

/**
 * cstrcasecmp_with_null(upper, s+start, n) == 0: the n bytes of s from start, with NUL bytes
 * removed and a-z upper-cased, equal the upper-case word. Bytes past the end of s never match.
 */
function eqWithNull(upper: string, s: string, start: number, n: number): boolean {
  let ai = 0;
  const alen = upper.length;
  for (let bi = 0; bi < n; bi++) {
    const i = start + bi;
    if (i >= s.length) return false;
    let cb = s.charCodeAt(i);
    if (cb === 0) continue;
    if (ai >= alen) return false;
    if (cb >= 0x61 && cb <= 0x7a) cb -= 0x20;
    if (upper.charCodeAt(ai++) !== cb) return false;
  }
  return ai === alen;
}

const HEX_VALUE = new Int16Array(256).fill(256);
for (let i = 0; i < 10; i++) HEX_VALUE[0x30 + i] = i;
for (let i = 0; i < 6; i++) {
  HEX_VALUE[0x41 + i] = 10 + i;
  HEX_VALUE[0x61 + i] = 10 + i;
}

/** html_decode_char_at result: the decoded char and how many bytes it took. */
let decodedConsumed = 0;

/**
 * html_decode_char_at: decodes one (possibly &#..; / &#x..; encoded) character at src of a region
 * of `len` bytes; sets decodedConsumed. Named entities are not decoded ('&' is returned).
 */
function htmlDecodeCharAt(s: string, src: number, len: number): number {
  if (len === 0) {
    decodedConsumed = 0;
    return -1;
  }
  decodedConsumed = 1;
  const c0 = byteAt(s, src);
  if (c0 !== 0x26 || len < 2) return c0; // not '&'
  if (byteAt(s, src + 1) !== 0x23) return 0x26; // named entity: '&'
  let val: number;
  let i: number;
  const c2 = byteAt(s, src + 2);
  if (c2 === 0x78 || c2 === 0x58) {
    const h = HEX_VALUE[byteAt(s, src + 3)]!;
    if (h === 256) return 0x26; // degenerate '&#x?'
    val = h;
    i = 4;
    while (i < len) {
      const ch = s.charCodeAt(src + i);
      if (ch === 0x3b) {
        decodedConsumed = i + 1;
        return val;
      }
      const d = HEX_VALUE[ch]!;
      if (d === 256) {
        decodedConsumed = i;
        return val;
      }
      val = val * 16 + d;
      if (val > 0x1000ff) return 0x26;
      ++i;
    }
    decodedConsumed = i;
    return val;
  }
  i = 2;
  let ch = c2;
  if (ch < 0x30 || ch > 0x39) return 0x26;
  val = ch - 0x30;
  i += 1;
  while (i < len) {
    ch = s.charCodeAt(src + i);
    if (ch === 0x3b) {
      decodedConsumed = i + 1;
      return val;
    }
    if (ch < 0x30 || ch > 0x39) {
      decodedConsumed = i;
      return val;
    }
    val = val * 10 + (ch - 0x30);
    if (val > 0x1000ff) return 0x26;
    ++i;
  }
  decodedConsumed = i;
  return val;
}

/**
 * htmlencode_startswith: does the HTML-encoded region s[start, start+n) start with the upper-case
 * word, case-insensitively, ignoring leading white space / control chars and any NUL or LF?
 */
function htmlEncodeStartsWith(upper: string, s: string, start: number, n: number): boolean {
  let ai = 0;
  let first = true;
  let p = start;
  while (n > 0) {
    if (ai === upper.length) return true;
    let cb = htmlDecodeCharAt(s, p, n);
    const consumed = decodedConsumed;
    p += consumed;
    n = consumed >= n ? 0 : n - consumed;
    if (first && cb <= 32) continue; // leading white space and control chars
    first = false;
    if (cb === 0) continue; // NUL
    if (cb === 10) continue; // LF
    if (cb >= 0x61 && cb <= 0x7a) cb -= 0x20;
    if (upper.charCodeAt(ai) !== (cb & 0xff)) return false; // (char)cb
    ai++;
  }
  return ai === upper.length;
}

/** is_black_tag */
export function isBlackTag(s: string, start: number, len: number): boolean {
  if (len < 3) return false;
  for (let i = 0; i < BLACKTAG.length; i++) {
    const tag = BLACKTAG[i]!;
    if (tag.length <= len && eqWithNull(tag, s, start, len)) return true;
  }
  const c0 = s.charCodeAt(start) | 0x20;
  const c1 = s.charCodeAt(start + 1) | 0x20;
  const c2 = s.charCodeAt(start + 2) | 0x20;
  // anything SVG or XSL(T)
  if (c0 === 0x73 && c1 === 0x76 && c2 === 0x67) return true;
  if (c0 === 0x78 && c1 === 0x73 && c2 === 0x6c) return true;
  return false;
}

/** Names grouped by first letter: a name can only match a token whose first non-NUL byte is it. */
function byFirstChar<T>(items: readonly T[], name: (t: T) => string): T[][] {
  const buckets: T[][] = Array.from({ length: 128 }, () => []);
  for (const it of items) buckets[name(it).charCodeAt(0)]!.push(it);
  return buckets;
}
const EVENTS_BY_FIRST = byFirstChar(BLACKATTREVENT, (e) => e);
const BLACKATTR_BY_FIRST = byFirstChar(BLACKATTR, (a) => a[0]);

/** Upper-cased first non-NUL byte of s[start, end), or 0 if there is none. */
function firstNonNulUpper(s: string, start: number, end: number): number {
  for (let k = start; k < end; k++) {
    const c = s.charCodeAt(k);
    if (c !== 0) return c >= 0x61 && c <= 0x7a ? c - 0x20 : c;
  }
  return 0;
}

/** is_black_attr: ATTR_TYPE_* for an attribute name. */
export function isBlackAttr(s: string, start: number, len: number): number {
  if (len < 2) return ATTR_TYPE_NONE;
  if (len >= 5) {
    // on* event handlers: the name after "on" starts with a known event name (the compare may
    // read past the attribute name, as libinjection's does)
    const o = s.charCodeAt(start) | 0x20;
    const n = s.charCodeAt(start + 1) | 0x20;
    if (o === 0x6f && n === 0x6e) {
      const f = firstNonNulUpper(s, start + 2, s.length);
      const events = f < 128 ? EVENTS_BY_FIRST[f]! : [];
      for (let i = 0; i < events.length; i++) {
        const ev = events[i]!;
        if (eqWithNull(ev, s, start + 2, ev.length)) return ATTR_TYPE_BLACK;
      }
    }
    // XMLNS / XLINK can create arbitrary tags
    if (eqWithNull('XMLNS', s, start, 5) || eqWithNull('XLINK', s, start, 5)) return ATTR_TYPE_BLACK;
  }
  const f = firstNonNulUpper(s, start, start + len);
  if (f === 0 || f >= 128) return ATTR_TYPE_NONE;
  const names = BLACKATTR_BY_FIRST[f]!;
  for (let i = 0; i < names.length; i++) {
    const entry = names[i]!;
    if (entry[0].length <= len && eqWithNull(entry[0], s, start, len)) return entry[1];
  }
  return ATTR_TYPE_NONE;
}

/** is_black_url: data:, view-source:, java(script):, vbscript: (HTML-entity aware). */
export function isBlackUrl(s: string, start: number, len: number): boolean {
  // skip white space, control chars and high-bit bytes
  while (len > 0) {
    const c = s.charCodeAt(start);
    if (c > 32 && c < 127) break;
    start++;
    len--;
  }
  return (
    htmlEncodeStartsWith('DATA', s, start, len) ||
    htmlEncodeStartsWith('VIEW-SOURCE', s, start, len) ||
    htmlEncodeStartsWith('JAVA', s, start, len) ||
    htmlEncodeStartsWith('VBSCRIPT', s, start, len)
  );
}

const h5 = new H5State();

/** libinjection_is_xss: XSS check of a byte string in one HTML5 context (html5 DATA_STATE, VALUE_*). */
export function isXssInContext(s: string, flags: number): boolean {
  h5.init(s, flags);
  let attr = ATTR_TYPE_NONE;
  while (h5.next() === RESULT_TRUE) {
    const type = h5.tokenType;
    const start = h5.tokenStart;
    const len = h5.tokenLen;
    if (type !== ATTR_VALUE) attr = ATTR_TYPE_NONE;

    if (type === DOCTYPE) {
      return true;
    } else if (type === TAG_NAME_OPEN) {
      if (isBlackTag(s, start, len)) return true;
    } else if (type === ATTR_NAME) {
      attr = isBlackAttr(s, start, len);
    } else if (type === ATTR_VALUE) {
      switch (attr) {
        case ATTR_TYPE_NONE:
          break;
        case ATTR_TYPE_BLACK:
          return true;
        case ATTR_TYPE_URL:
          if (isBlackUrl(s, start, len)) return true;
          break;
        case ATTR_TYPE_STYLE:
          return true;
        case ATTR_TYPE_INDIRECT:
          // an attribute name given in a value
          if (isBlackAttr(s, start, len) !== ATTR_TYPE_NONE) return true;
          break;
      }
      attr = ATTR_TYPE_NONE;
    } else if (type === TAG_COMMENT) {
      // IE uses '`' as a tag ending char
      const tick = s.indexOf('`', start);
      if (tick !== -1 && tick < start + len) return true;
      if (len > 3) {
        const c0 = s.charCodeAt(start);
        const c1 = s.charCodeAt(start + 1) | 0x20;
        const c2 = s.charCodeAt(start + 2) | 0x20;
        // IE conditional comment <!--[if ...
        if (c0 === 0x5b && c1 === 0x69 && c2 === 0x66) return true;
        // <!--xml
        if ((c0 | 0x20) === 0x78 && c1 === 0x6d && c2 === 0x6c) return true;
      }
      if (len > 5) {
        // IE <?import pseudo-tag, XML entity definition
        if (eqWithNull('IMPORT', s, start, 6) || eqWithNull('ENTITY', s, start, 6)) return true;
      }
    }
  }
  return false;
}

/** libinjection_xss: XSS in any of the five contexts. */
export function isXss(s: string): boolean {
  return (
    isXssInContext(s, DATA_STATE) ||
    isXssInContext(s, VALUE_NO_QUOTE) ||
    isXssInContext(s, VALUE_SINGLE_QUOTE) ||
    isXssInContext(s, VALUE_DOUBLE_QUOTE) ||
    isXssInContext(s, VALUE_BACK_QUOTE)
  );
}
