/**
 * deb822 paragraphs ("stanzas"): the text format of Debian control files, Packages and
 * Release. The model follows python-debian's `Deb822`: an ordered, case-insensitive map of
 * field name to raw value, where a multi-line value keeps its continuation lines verbatim
 * (leading space or tab included, " ." lines included), exactly as apt's `FindRaw` returns it.
 *
 * Reading is as strict as dpkg and apt are on the files this project reads (binary control
 * files, Packages, Release):
 * - comment lines (`#`) are rejected: apt honours them only in sources.list, preferences and
 *   .dsc files (`pkgTagFile::SUPPORT_COMMENTS`), and dpkg-deb refuses them in DEBIAN/control;
 * - a line holding only spaces/tabs inside a paragraph is rejected: apt reads it as a
 *   continuation line while other parsers end the paragraph there, so it is ambiguous;
 * - bytes that are not UTF-8 are rejected (Debian policy 5.1 requires UTF-8; escaping them
 *   would publish values that differ from the control file dpkg installs);
 * - control characters other than tab are rejected (they include CR, so CRLF files too).
 *
 * Writing validates every name and value so that no value can start a new field or a new
 * paragraph (a newline not followed by a space/tab, an empty or blank line).
 */
import { PackageFormatError, check } from '../errors';

/** One field of a paragraph. */
export interface Deb822Field {
  /** The name as written (matching is case-insensitive). */
  readonly name: string;
  /**
   * The raw value: the first line without its leading whitespace, then each continuation
   * line as `\n` + the line verbatim. Trailing whitespace of the whole value is dropped.
   * A value whose first line is empty starts with `\n`.
   */
  readonly value: string;
}

/** Caps for hostile input. */
export interface Deb822Limits {
  /** Most paragraphs in one text. @default 1_000_000 */
  readonly maxParagraphs?: number;
  /** Most fields in one paragraph. @default 1000 */
  readonly maxFields?: number;
}

const DEFAULT_MAX_PARAGRAPHS = 1_000_000;
const DEFAULT_MAX_FIELDS = 1000;

/** Debian policy 5.1: US-ASCII without controls, space and colon; not starting with `#` or `-`. */
const FIELD_NAME = /^[!-9;-~]+$/;

/** Whether `name` is a legal deb822 field name. */
export function isLegalFieldName(name: string): boolean {
  return FIELD_NAME.test(name) && name[0] !== '#' && name[0] !== '-';
}

/** Throws a PackageFormatError when `name` is not a legal field name. */
export function validateFieldName(name: string): void {
  if (!isLegalFieldName(name)) {
    throw new PackageFormatError(`illegal field name ${JSON.stringify(name)}: field names are printable US-ASCII without space or colon, not starting with '#' or '-'`);
  }
}

/**
 * Throws a PackageFormatError when `value` cannot be written as the value of field `name`
 * without changing the structure of the paragraph: a newline must be followed by a space or
 * tab and then by something other than whitespace; no control characters except tab.
 */
export function validateFieldValue(name: string, value: string): void {
  const control = /[\u0000-\u0008\u000b-\u001f\u007f]/.exec(value);
  // messages are built only on failure: these checks run for every line of a Packages file
  if (control) throw new PackageFormatError(`field ${name}: control character U+${hex4(control[0])} is not allowed in a value`);
  const lines = value.split('\n');
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    check(line.length > 0, `field ${name}: value has an empty line ${i + 1}, which would end the paragraph`);
    if (line[0] !== ' ' && line[0] !== '\t') {
      throw new PackageFormatError(`field ${name}: line ${i + 1} of the value (${JSON.stringify(line.slice(0, 40))}) does not start with a space or tab and would start a new field`);
    }
    check(/[^ \t]/.test(line), `field ${name}: line ${i + 1} of the value holds only whitespace, which parsers read as a paragraph break`);
  }
}

function hex4(ch: string): string {
  return ch.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0');
}

/**
 * One deb822 paragraph: fields in their order, looked up case-insensitively. Names and
 * values are validated when set, so a paragraph can always be written back safely.
 */
export class Deb822Paragraph {
  /** A paragraph from `[name, value]` pairs (validated; duplicate names are an error). */
  static of(fields: Iterable<readonly [string, string]>): Deb822Paragraph {
    const p = new Deb822Paragraph();
    for (const [name, value] of fields) {
      check(!p.has(name), `duplicate field ${name}`);
      p.set(name, value);
    }
    return p;
  }

  private readonly list: Deb822Field[] = [];
  private readonly positions = new Map<string, number>();

  /** The fields in order. */
  get fields(): readonly Deb822Field[] {
    return this.list;
  }

  /** Number of fields. */
  get size(): number {
    return this.list.length;
  }

  /** The value of a field (case-insensitive name), or undefined. */
  get(name: string): string | undefined {
    const at = this.positions.get(name.toLowerCase());
    return at === undefined ? undefined : this.list[at].value;
  }

  /** Whether a field is present (case-insensitive name). */
  has(name: string): boolean {
    return this.positions.has(name.toLowerCase());
  }

  /**
   * Sets a field: replaces the value in place when the field exists (keeping its position
   * and spelling), appends it otherwise. Throws PackageFormatError for an illegal name or a
   * value that would break the paragraph structure.
   */
  set(name: string, value: string): this {
    validateFieldName(name);
    validateFieldValue(name, value);
    const key = name.toLowerCase();
    const at = this.positions.get(key);
    if (at === undefined) {
      this.positions.set(key, this.list.length);
      this.list.push({ name, value });
    } else {
      this.list[at] = { name: this.list[at].name, value };
    }
    return this;
  }

  /** Removes a field; returns whether it was there. */
  delete(name: string): boolean {
    const key = name.toLowerCase();
    const at = this.positions.get(key);
    if (at === undefined) return false;
    this.list.splice(at, 1);
    this.positions.clear();
    this.list.forEach((f, i) => this.positions.set(f.name.toLowerCase(), i));
    return true;
  }

  /** A copy that can be changed independently. */
  clone(): Deb822Paragraph {
    return Deb822Paragraph.of(this.list.map((f) => [f.name, f.value] as const));
  }
}

/** Decodes bytes as UTF-8, throwing a PackageFormatError that names `what` for invalid bytes. */
export function decodeUtf8(bytes: Uint8Array, what: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new PackageFormatError(`${what} is not valid UTF-8 (at byte ${firstInvalidUtf8(bytes)}); non-UTF-8 text is rejected, not escaped`);
  }
}

function firstInvalidUtf8(bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length;) {
    const b = bytes[i];
    const len = b < 0x80 ? 1 : b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
    if (len === 0 || i + len > bytes.length) return i;
    for (let k = 1; k < len; k++) if (bytes[i + k] < 0x80 || bytes[i + k] > 0xbf) return i;
    i += len;
  }
  // structurally fine: an overlong form or a surrogate; the decoder knows, the offset is not exact
  return 0;
}

/**
 * Parses deb822 text into paragraphs. Paragraphs are separated by one or more empty lines
 * (whitespace-only lines between paragraphs are accepted too). See the module comment for
 * what is rejected.
 */
export function parseDeb822(text: string, limits: Deb822Limits = {}): Deb822Paragraph[] {
  const maxParagraphs = limits.maxParagraphs ?? DEFAULT_MAX_PARAGRAPHS;
  const maxFields = limits.maxFields ?? DEFAULT_MAX_FIELDS;
  const out: Deb822Paragraph[] = [];
  let current: Deb822Paragraph | undefined;
  let name: string | undefined;
  let value: string[] = [];
  let fieldLine = 0;

  const endField = () => {
    if (name === undefined || !current) return;
    const joined = value.join('\n').replace(/[ \t\n]+$/, '');
    check(!current.has(name), `line ${fieldLine}: duplicate field ${name}`);
    check(current.size < maxFields, `line ${fieldLine}: more than ${maxFields} fields in one paragraph`);
    current.set(name, joined);
    name = undefined;
    value = [];
  };
  const endParagraph = () => {
    endField();
    if (current) out.push(current);
    current = undefined;
  };

  let start = 0;
  let lineNo = 0;
  while (start < text.length) {
    if (text.charCodeAt(start) === 0x0a) {
      // an empty line, without the work of a line: runs of them cost next to nothing
      endParagraph();
      start++;
      lineNo++;
      continue;
    }
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const line = text.slice(start, end);
    start = end + 1;
    lineNo++;

    const control = /[\u0000-\u0008\u000b-\u001f\u007f]/.exec(line);
    if (control) throw new PackageFormatError(`line ${lineNo}: control character U+${hex4(control[0])} is not allowed`);
    const blank = !/[^ \t]/.test(line);
    if (blank) {
      check(!current, `line ${lineNo}: a line of only whitespace inside a paragraph is ambiguous (apt continues the field, other parsers end the paragraph)`);
      continue;
    }
    if (line[0] === ' ' || line[0] === '\t') {
      check(name !== undefined, `line ${lineNo}: continuation line without a field before it`);
      value.push(line);
      continue;
    }
    check(line[0] !== '#', `line ${lineNo}: comment lines are not allowed here (apt and dpkg accept none in control files, Packages or Release)`);
    const colon = line.indexOf(':');
    if (colon <= 0) throw new PackageFormatError(`line ${lineNo}: expected "Field: value", found ${JSON.stringify(line.slice(0, 60))}`);
    const fieldName = line.slice(0, colon);
    validateFieldName(fieldName);
    endField();
    if (!current) {
      check(out.length < maxParagraphs, `more than ${maxParagraphs} paragraphs`);
      current = new Deb822Paragraph();
    }
    name = fieldName;
    fieldLine = lineNo;
    value = [line.slice(colon + 1).replace(/^[ \t]+/, '')];
  }
  endParagraph();
  return out;
}

/** Decodes (strict UTF-8) and parses deb822 bytes; `what` names the input in errors. */
export function parseDeb822Bytes(bytes: Uint8Array, what: string, limits?: Deb822Limits): Deb822Paragraph[] {
  const text = decodeUtf8(bytes, what);
  try {
    return parseDeb822(text, limits);
  } catch (e) {
    if (e instanceof PackageFormatError) throw new PackageFormatError(`${what}: ${e.message}`, { cause: e });
    throw e;
  }
}

/** One field as a line (or lines): `Name: value`, or `Name:` + value when it starts with a newline or is empty. */
export function formatField(name: string, value: string): string {
  validateFieldName(name);
  validateFieldValue(name, value);
  return fieldText(name, value);
}

function fieldText(name: string, value: string): string {
  return value.length === 0 || value[0] === '\n' ? `${name}:${value}\n` : `${name}: ${value}\n`;
}

/** A paragraph as text: one field after another, each ending in a newline, no blank line. */
export function formatParagraph(paragraph: Deb822Paragraph): string {
  // a paragraph's names and values were validated when they were set
  let out = '';
  for (const f of paragraph.fields) out += fieldText(f.name, f.value);
  return out;
}

/** Several paragraphs, each followed by an empty line (the layout of Packages files). */
export function formatParagraphs(paragraphs: Iterable<Deb822Paragraph>): string {
  let out = '';
  for (const p of paragraphs) out += formatParagraph(p) + '\n';
  return out;
}
