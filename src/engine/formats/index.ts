import type { FormatName, RepositoryFormat } from '../format';
import { apkFormat } from './apk';
import { aptFormat } from './apt';
import { pacmanFormat } from './pacman';
import { yumFormat } from './yum';

/** Options any format may read; each takes the ones it understands. */
export interface FormatOptions {
  /** apt: Origin field of Release. */
  readonly origin?: string;
  /** apt: Label field of Release. */
  readonly label?: string;
  /** pacman: repository name instead of the first path segment. */
  readonly repoName?: string;
  /** pacman: also write `<repo>.db` etc. as copies, for static servers without rewriting. */
  readonly localLinks?: boolean;
  /** apk: the key name in the index signature (the file name in /etc/apk/keys). */
  readonly keyName?: string;
}

/** The formats the engine knows, by the names users type. */
export const FORMAT_NAMES: readonly FormatName[] = ['yum', 'apt', 'pacman', 'apk'];

/** A format by name. */
export function createFormat(name: FormatName, options: FormatOptions = {}): RepositoryFormat<any> {
  switch (name) {
    case 'yum':
      return yumFormat();
    case 'apt':
      return aptFormat({ origin: options.origin, label: options.label });
    case 'apk':
      return apkFormat({ keyName: options.keyName });
    case 'pacman':
      return pacmanFormat({ repoName: options.repoName, localLinks: options.localLinks });
  }
}

export function isFormatName(name: string): name is FormatName {
  return (FORMAT_NAMES as readonly string[]).includes(name);
}
