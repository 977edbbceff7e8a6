/** The pacman format layer: packages, `.PKGINFO`, sync databases, version order. */
export * from './pkginfo';
export * from './package';
export * from './db';
export * from './db-chunks';
export * from './db-summary';
export * from './vercmp';
export * from './build-pacman';
