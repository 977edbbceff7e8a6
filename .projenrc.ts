import { awscdk, javascript } from 'projen';

const project = new awscdk.AwsCdkConstructLibrary({
  name: 'cdk-package-repos',
  description: 'Signed yum/dnf, apt, apk and pacman package repositories on S3 + CloudFront, updated on upload.',
  author: 'cdk-package-repos maintainers',
  authorAddress: 'maintainers@cdk-package-repos.dev',
  repositoryUrl: 'https://github.com/cdk-package-repos/cdk-package-repos.git',
  license: 'Apache-2.0',
  keywords: ['cdk', 'awscdk', 'yum', 'dnf', 'rpm', 'apt', 'deb', 'apk', 'pacman', 'package-repository'],
  defaultReleaseBranch: 'main',
  projenrcTs: true,
  packageManager: javascript.NodePackageManager.NPM,

  cdkVersion: '2.257.0',
  constructsVersion: '10.5.1',
  jsiiVersion: '~6.0.0',
  typescriptVersion: '~6.0.0',
  minNodeVersion: '20.19.0',

  // vitest replaces jest (see the test task below)
  jest: false,
  eslint: true,
  docgen: true,
  github: false,
  release: false,
  depsUpgrade: false,
  pullRequestTemplate: false,

  publishToPypi: { distName: 'cdk-package-repos', module: 'cdk_package_repos' },
  publishToMaven: {
    javaPackage: 'dev.cdkpackagerepos',
    mavenGroupId: 'dev.cdk-package-repos',
    mavenArtifactId: 'cdk-package-repos',
  },
  publishToNuget: { dotNetNamespace: 'CdkPackageRepos', packageId: 'CdkPackageRepos' },
  publishToGo: { moduleName: 'github.com/cdk-package-repos/cdk-package-repos-go' },

  // non-jsii runtime dependencies must be bundled into the npm package
  bundledDeps: [
    '@aws-sdk/client-s3',
    '@aws-sdk/client-ssm',
    '@aws-sdk/client-sqs',
    'openpgp',
    'saxes',
    'commander@^14',
    'fzstd',
    'xz-decompress',
    'tar-stream',
  ],
  devDeps: [
    'vitest@^4',
    '@vitest/coverage-v8@^4',
    's3rver',
    'esbuild',
    'cdk-nag',
    '@aws-cdk/integ-tests-alpha@2.245.0-alpha.0',
    '@aws-cdk/integ-runner',
    '@types/tar-stream',
  ],
  bin: { pkgrepo: 'bin/pkgrepo' },
  npmignoreEnabled: true,
  tsconfig: {
    compilerOptions: {
      lib: ['es2022', 'dom'],
      target: 'ES2022',
      skipLibCheck: true,
    },
  },
  tsconfigDev: {
    compilerOptions: {
      lib: ['es2022', 'dom'],
      target: 'ES2022',
      skipLibCheck: true,
    },
    include: ['../bench/**/*.ts', '../integ/**/*.ts', '../vitest.config.mts'],
  },
  gitignore: ['/coverage/', '/.tmp/', '/bench/out/', '*.tsbuildinfo', 'cdk.out/'],
  npmIgnoreOptions: { ignorePatterns: ['/bench/', '/integ/', '/.ci/', '/coverage/', '/.tmp/'] },
});

// vitest, plus a type check of everything vitest runs (vitest strips types without checking)
project.testTask.reset();
project.testTask.exec('tsc --noEmit -p test/tsconfig.json');
project.testTask.exec('vitest run', { receiveArgs: true });
project.testTask.spawn(project.tasks.tryFind('eslint')!);

project.addTask('test:watch', { exec: 'vitest' });

project.synth();
