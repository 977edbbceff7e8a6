export * from './constructs/repository-props';
export * from './constructs/indexer-packaging';
export * from './constructs/signing-key';
export * from './constructs/repository-host';
export * from './constructs/yum-repository';
export * from './constructs/apt-repository';
export * from './constructs/apk-repository';
export * from './constructs/pacman-repository';
