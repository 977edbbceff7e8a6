/**
 * apk version strings (apk-tools 2.14 `src/version.c`): `{digit}{.digit}...{letter}{_suffix{#}}...{-r#}`,
 * e.g. `1.2.3a_rc1_p2-r0`. Used to validate versions (they become part of file names)
 * and to order index entries the way `apk index` does.
 */

const enum Token {
  Invalid = -1,
  DigitOrZero = 0,
  Digit = 1,
  Letter = 2,
  Suffix = 3,
  SuffixNumber = 4,
  Revision = 5,
  End = 6,
}

const PRE_RELEASE_SUFFIXES = ['alpha', 'beta', 'pre', 'rc'];
const POST_RELEASE_SUFFIXES = ['cvs', 'svn', 'git', 'hg', 'p'];
/** apk refuses numbers of 18 digits or more. */
const MAX_DIGITS = 18;

const isDigit = (c: string | undefined) => c !== undefined && c >= '0' && c <= '9';
const isLower = (c: string | undefined) => c !== undefined && c >= 'a' && c <= 'z';

/** Walks one version string token by token; `type` is the kind of the next token. */
class Tokens {
  type: Token = Token.Digit;
  private pos = 0;

  constructor(private readonly text: string) {}

  private get rest(): number {
    return this.text.length - this.pos;
  }

  /** Reads the next token's value and moves `type` to the kind of the one after it. */
  next(): bigint {
    if (this.rest <= 0) {
      this.type = Token.End;
      return 0n;
    }
    const s = this.text;
    const at = this.pos;
    let i = 0;
    let value = 0n;
    let following: Token = Token.Invalid;
    switch (this.type) {
      case Token.DigitOrZero:
        if (s[at] === '0') {
          // leading zeros compare as a negative number of zeros
          while (i + 1 < this.rest && s[at + i + 1] === '0') i++;
          following = Token.Digit;
          value = BigInt(-i);
          break;
        }
        value = this.number(at);
        i = this.digits(at);
        if (i >= MAX_DIGITS) return this.invalid();
        break;
      case Token.Digit:
      case Token.SuffixNumber:
      case Token.Revision:
        value = this.number(at);
        i = this.digits(at);
        if (i >= MAX_DIGITS) return this.invalid();
        break;
      case Token.Letter:
        value = BigInt(s.charCodeAt(at));
        i = 1;
        break;
      case Token.Suffix: {
        const pre = PRE_RELEASE_SUFFIXES.findIndex((x) => s.startsWith(x, at));
        if (pre >= 0) {
          value = BigInt(pre - PRE_RELEASE_SUFFIXES.length);
          i = PRE_RELEASE_SUFFIXES[pre].length;
          break;
        }
        const post = POST_RELEASE_SUFFIXES.findIndex((x) => s.startsWith(x, at));
        if (post < 0) return this.invalid();
        value = BigInt(post);
        i = POST_RELEASE_SUFFIXES[post].length;
        break;
      }
      default:
        return this.invalid();
    }
    this.pos += i;
    if (this.rest === 0) this.type = Token.End;
    else if (following !== Token.Invalid) this.type = following;
    else this.advance();
    return value;
  }

  /** Consumes the separator before the next token and decides its kind. */
  private advance(): void {
    const c = this.text[this.pos];
    const previous = this.type;
    let n: Token;
    if ((previous === Token.Digit || previous === Token.DigitOrZero) && isLower(c)) {
      n = Token.Letter;
    } else if (previous === Token.Letter && isDigit(c)) {
      n = Token.Digit;
    } else if (previous === Token.Suffix && isDigit(c)) {
      n = Token.SuffixNumber;
    } else {
      n = Token.Invalid;
      if (c === '.') {n = Token.DigitOrZero;} else if (c === '_') {n = Token.Suffix;} else if (c === '-' && this.text[this.pos + 1] === 'r') {
        n = Token.Revision;
        this.pos++;
      }
      this.pos++;
    }
    const allowedBackStep = (n === Token.DigitOrZero && previous === Token.Digit)
      || (n === Token.Suffix && previous === Token.SuffixNumber)
      || (n === Token.Digit && previous === Token.Letter);
    if (n < previous && !allowedBackStep) n = Token.Invalid;
    this.type = n;
  }

  private digits(at: number): number {
    let i = 0;
    while (isDigit(this.text[at + i])) i++;
    return i;
  }

  private number(at: number): bigint {
    const run = this.text.slice(at, at + this.digits(at));
    return run === '' ? 0n : BigInt(run);
  }

  private invalid(): bigint {
    this.type = Token.Invalid;
    return -1n;
  }
}

/** Whether apk-tools accepts `version` as a package or dependency version. */
export function isValidApkVersion(version: string): boolean {
  const t = new Tokens(version);
  while (t.type !== Token.End && t.type !== Token.Invalid) t.next();
  return t.type === Token.End;
}

/** Orders two apk versions: negative when `a` is older, positive when newer, 0 when equal. */
export function compareApkVersions(a: string, b: string): number {
  const ta = new Tokens(a);
  const tb = new Tokens(b);
  let va = 0n;
  let vb = 0n;
  while (ta.type === tb.type && ta.type !== Token.End && ta.type !== Token.Invalid && va === vb) {
    va = ta.next();
    vb = tb.next();
  }
  if (va !== vb) return va < vb ? -1 : 1;
  const at = ta.type;
  const bt = tb.type;
  if (at === bt) return 0;
  // equal so far: the longer one is newer unless what follows is a pre-release suffix
  if (at === Token.Suffix && ta.next() < 0n) return -1;
  if (bt === Token.Suffix && tb.next() < 0n) return 1;
  if (at > bt) return -1;
  if (bt > at) return 1;
  return 0;
}
