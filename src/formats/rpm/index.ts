/** The rpm / rpm-md format layer. */
export * from './model';
export * from './tags';
export * from './header';
export * from './rpm-file';
export * from './primary-xml';
export * from './filelists-xml';
export * from './other-xml';
export * from './repomd-xml';
export * from './read-metadata';
export * from './gzip-members';
export * from './metadata-chunks';
export * from './build-rpm';
export * from './vercmp';
