/// !cdk-integ ApkRepositoryTest
import { ApkRepository } from '../src';
import { buildApk, integApp } from './support';

// upload an .apk into v3.20/main/x86_64; the CDN then serves the signed APKINDEX.tar.gz next to it
integApp({
  name: 'ApkRepository',
  create: (stack, props) => new ApkRepository(stack, 'Repo', { ...props, keyName: 'integ@example.com-1.rsa.pub' }),
  package: buildApk(),
  key: 'v3.20/main/x86_64/integ-hello-1.0-r0.apk',
  indexPath: 'v3.20/main/x86_64/APKINDEX.tar.gz',
}).synth();
