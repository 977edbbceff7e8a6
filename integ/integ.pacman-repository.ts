/// !cdk-integ PacmanRepositoryTest
import { PacmanRepository } from '../src';
import { buildPacmanPackage, integApp } from './support';

// upload a package into extra/os/x86_64; the CDN then serves extra.db, which the edge function
// maps to the published extra.db.tar.gz (S3 has no links)
integApp({
  name: 'PacmanRepository',
  create: (stack, props) => new PacmanRepository(stack, 'Repo', props),
  package: buildPacmanPackage(),
  key: 'extra/os/x86_64/integ-hello-1.0-1-x86_64.pkg.tar.gz',
  indexPath: 'extra/os/x86_64/extra.db',
}).synth();
