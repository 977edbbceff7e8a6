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
    '@aws-sdk/client-eventbridge',
    'openpgp',
    'saxes',
    'commander@^14',
    'fzstd',
    'xz-decompress',
    'tar-stream',
    // the local pipeline (`pkgrepo demo`) runs s3rver as its bucket
    's3rver',
  ],
  devDeps: [
    'vitest@^4',
    '@vitest/coverage-v8@^4',
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
      // exactly ['es2022']: jsii validates this tsconfig with its "strict" rule set
      lib: ['es2022'],
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

// Lambda bundles of the construct layer (esbuild, CommonJS for the Node.js 22 runtime). They are
// written next to what ships with them in assets/ (the indexer's Dockerfile), git-ignored, kept
// in the npm package, and produced before compile and before the tests (a fresh clone works).
const lambdaBundles: Array<{ name: string; entry: string; sourcemap: boolean }> = [
  { name: 'indexer', entry: 'src/handlers/indexer.ts', sourcemap: true },
  { name: 'keygen', entry: 'src/handlers/keygen.ts', sourcemap: true },
  // Lambda@Edge: no source map (NODE_OPTIONS cannot be set at the edge), smaller asset
  { name: 'edge', entry: 'src/edge/origin-request.ts', sourcemap: false },
];
const bundleTasks = lambdaBundles.map(({ name, entry, sourcemap }) => project.addTask(`bundle:${name}`, {
  description: `Bundle ${entry} into assets/${name}/index.js`,
  exec: [
    `esbuild ${entry} --bundle --platform=node --target=node22 --format=cjs`,
    // openpgp is an ES module that finds its own location with import.meta.url: give it one in CommonJS
    '"--banner:js=const __import_meta_url = require(\'url\').pathToFileURL(__filename).href;"',
    '--define:import.meta.url=__import_meta_url',
    `--outfile=assets/${name}/index.js`,
    ...(sourcemap ? ['--sourcemap'] : []),
    '--log-level=warning',
  ].join(' '),
}));
for (const task of bundleTasks) project.preCompileTask.spawn(task);
project.addGitIgnore('/assets/*/index.js');
project.addGitIgnore('/assets/*/index.js.map');
project.addPackageIgnore('!/assets/');

// npm ci fails on the optional per-platform @unrs/resolver-binding-* packages of newer versions
project.package.addPackageResolutions('unrs-resolver@1.12.2');

// every README and doc-comment example compiles (TypeScript, against rosetta/default.ts-fixture)
project.addTask('rosetta:check', {
  description: 'Compile the README and doc-comment examples with jsii-rosetta (after compile)',
  exec: 'jsii-rosetta extract --compile --fail',
});
project.addGitIgnore('.jsii.tabl.json');

// binary formats are bit fields and flags: bitwise operators are the clear way to read them
project.eslint?.addRules({ 'no-bitwise': 'off' });

// vitest, plus a type check of everything vitest runs (vitest strips types without checking)
project.testTask.reset();
for (const task of bundleTasks) project.testTask.spawn(task);
project.testTask.exec('tsc --noEmit -p test/tsconfig.json');
project.testTask.exec('vitest run', { receiveArgs: true });
project.testTask.spawn(project.tasks.tryFind('eslint')!);

project.addTask('test:watch', { exec: 'vitest' });

// integ tests (integ/integ.*.ts): snapshots are written and verified by synthesis only, no AWS
// account needed; deploying them (`npx integ-runner --directory integ --language typescript
// --update-on-failed`) needs credentials and Docker.
const integRunner = 'integ-runner --directory integ --language typescript';
const integEnv = { TS_NODE_TRANSPILE_ONLY: 'true' };
const integSnapshot = project.addTask('integ:snapshot', {
  description: 'Write the integ test snapshots without deploying (commit them)',
  env: integEnv,
});
for (const task of bundleTasks) integSnapshot.spawn(task);
integSnapshot.exec(`${integRunner} --dry-run --update-on-failed`, { receiveArgs: true });
const integVerify = project.addTask('integ:verify', {
  description: 'Check that the committed integ snapshots match the code (synth only, no deploy)',
  env: integEnv,
});
for (const task of bundleTasks) integVerify.spawn(task);
integVerify.exec(integRunner, { receiveArgs: true });

// jsii bindings: Python and Java source generated (no packaging toolchain needed), then the
// Python byte-compiled, so a construct API that does not translate fails here (after compile;
// Maven Central and PyPI are out of reach here, so the bindings are not packaged)
const bindingsCheck = project.addTask('bindings:check', {
  description: 'Generate the Python and Java bindings (jsii-pacmak --code-only) and compile the Python (after compile)',
});
bindingsCheck.exec('jsii-pacmak --code-only --target python --target java');
bindingsCheck.exec('python3 -m compileall -q dist/python/src');
// the README's Python and Java examples name classes, keyword arguments and builder methods that exist
bindingsCheck.exec('python3 scripts/check-readme-bindings.py README.md dist');

// the main job on this machine: `npm run demo -- --check`
const demo = project.addTask('demo', { description: 'Build, then run `pkgrepo demo` (sample repositories served on 127.0.0.1)' });
demo.exec('bash scripts/install-clients.sh');
demo.spawn(project.compileTask);
demo.exec('node bin/pkgrepo demo', { receiveArgs: true });

project.synth();
