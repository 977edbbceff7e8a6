/**
 * The `pkgrepo` command line, bundled like ours.js: the benchmark's `pkgrepo index` rows. It
 * finds what changed by listing the tree and comparing the engine's journal (as
 * `createrepo_c --update` stats every file), where the indexer Lambda is told by events.
 */
import { main } from '../src/cli/main';

void main();
