/// !cdk-integ YumRepositoryTest
import { YumRepository } from '../src';
import { buildRpm, integApp } from './support';

// upload an rpm; the CDN then serves repodata/repomd.xml naming its primary metadata
integApp({
  name: 'YumRepository',
  create: (stack, props) => new YumRepository(stack, 'Repo', props),
  package: buildRpm(),
  key: 'integ-hello-1.0-1.noarch.rpm',
  indexPath: 'repodata/repomd.xml',
  indexMatches: '<data type="primary">',
}).synth();
