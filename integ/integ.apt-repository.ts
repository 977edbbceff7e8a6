/// !cdk-integ AptRepositoryTest
import { AptRepository } from '../src';
import { buildDeb, integApp } from './support';

// upload an amd64 .deb into pool/stable/main; the CDN then serves a signed InRelease listing main/binary-amd64
integApp({
  name: 'AptRepository',
  create: (stack, props) => new AptRepository(stack, 'Repo', { ...props, origin: 'Integ', label: 'Integ' }),
  package: buildDeb(),
  key: 'pool/stable/main/i/integ-hello/integ-hello_1.0_amd64.deb',
  indexPath: 'dists/stable/InRelease',
  indexMatches: 'main/binary-amd64/Packages',
}).synth();
