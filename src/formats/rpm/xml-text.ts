/**
 * XML escaping exactly as createrepo_c's output has it (libxml2 `xmlNodeDump` without an
 * output encoding): text escapes `& < >` and CR; attributes also escape `"`, TAB, LF and write
 * every non-ASCII character as a hexadecimal character reference. Characters XML 1.0 cannot
 * carry (controls below 32 other than TAB, LF and CR; U+FFFE, U+FFFF; unpaired surrogates) are
 * dropped: one package's text must never make the repository's metadata unreadable.
 */

// eslint-disable-next-line no-control-regex
const FORBIDDEN = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
// eslint-disable-next-line no-control-regex
const TEXT_SPECIAL = /[&<>\r\u0000-\u0008\u000b\u000c\u000e-\u001f\ud800-\udfff\ufffe\uffff]/;
// eslint-disable-next-line no-control-regex
const ATTR_SPECIAL = /[&<>"\t\n\r\u0000-\u001f\u0080-\uffff]/;

/** Drop the control characters XML 1.0 cannot carry. */
export function stripControl(s: string): string {
  return s.replace(FORBIDDEN, '');
}

/** Escape element text. */
export function escapeText(s: string): string {
  if (!TEXT_SPECIAL.test(s)) return s;
  return stripControl(s).replace(/[&<>\r]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : '&#13;'));
}

/** Escape an attribute value (without the surrounding quotes). */
export function escapeAttr(s: string): string {
  if (!ATTR_SPECIAL.test(s)) return s;
  let out = '';
  for (const ch of stripControl(s)) {
    switch (ch) {
      case '&': out += '&amp;'; break;
      case '<': out += '&lt;'; break;
      case '>': out += '&gt;'; break;
      case '"': out += '&quot;'; break;
      case '\t': out += '&#9;'; break;
      case '\n': out += '&#10;'; break;
      case '\r': out += '&#13;'; break;
      default: {
        const cp = ch.codePointAt(0)!;
        out += cp < 0x80 ? ch : `&#x${cp.toString(16).toUpperCase()};`;
      }
    }
  }
  return out;
}

/** `<name>text</name>`: createrepo_c writes empty text as an open/close pair, not `<name/>`. */
export function textElement(name: string, text: string, attrs = ''): string {
  return `<${name}${attrs}>${escapeText(text)}</${name}>`;
}

/** ` key="value"` for each pair, in order. */
export function attributes(pairs: ReadonlyArray<readonly [string, string]>): string {
  let out = '';
  for (const [k, v] of pairs) out += attribute(k, v);
  return out;
}

/** ` key="value"`, the value escaped. */
export function attribute(key: string, value: string): string {
  return ` ${key}="${escapeAttr(value)}"`;
}
