// pacman's sandbox lives with the CLI (pkgrepo demo --check runs it too)
export * from '../../src/cli/clients/pacman';
