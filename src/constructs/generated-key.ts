import { CustomResource, Duration, Names, Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { acknowledge, wildcardResourceFinding } from './acknowledge';
import { assetDirectory } from './assets';
import { FunctionRole } from './function-role';
import { parameterArn, viaSsm } from './ssm';
import { type KeygenProperties, type KeyKind, KEYS_FOLDER } from '../handlers/contract';

/** Props of GeneratedKey. */
export interface GeneratedKeyProps {
  readonly kind: KeyKind;
  readonly bucket: s3.IBucket;
  readonly publicKeyPrefix: string;
  readonly rsaKeyName?: string;
  readonly userId: string;
  readonly encryptionKey?: kms.IKey;
  /** Delete the parameter with the resource. */
  readonly destroy: boolean;
  readonly parameterPath?: string;
  /**
   * A key the user made: the custom resource only reads these parameters and publishes the
   * public half; it never writes or deletes them.
   */
  readonly existing?: { readonly parameterName: string; readonly passphraseParameterName?: string };
}

const PARAMETER_PATH = /^\/([A-Za-z0-9_.-]+\/)*$/;

/**
 * A signing key generated at deploy time by a custom resource (CloudFormation cannot create
 * SecureString parameters): the private key goes to a SecureString parameter (written with
 * Overwrite=false, so an existing key is kept), the public key to `<prefix>keys/` in the bucket.
 * With `existing`, the same resource publishes the public half of a key the user stored.
 */
export class GeneratedKey extends Construct {
  public readonly parameterName: string;
  public readonly parameterArn: string;

  constructor(scope: Construct, id: string, props: GeneratedKeyProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const { kind } = props;
    const { existing } = props;
    if (existing) {
      this.parameterName = existing.parameterName;
    } else {
      const path = props.parameterPath ?? `/cdk-package-repos/${stack.stackName}/${Names.uniqueResourceName(scope, { maxLength: 128 })}/`;
      if (!Token.isUnresolved(path) && !PARAMETER_PATH.test(path)) {
        throw new Error(`parameterPath must start and end with '/' and hold only letters, digits, '_', '.', '-': ${JSON.stringify(path)}`);
      }
      this.parameterName = `${path}${kind}-private-key`;
    }
    this.parameterArn = parameterArn(this, this.parameterName);
    const passphraseArn = existing?.passphraseParameterName === undefined ? undefined : parameterArn(this, existing.passphraseParameterName);

    const provider = KeygenProvider.of(this);
    const publicKeys = props.bucket.arnForObjects(`${props.publicKeyPrefix}${KEYS_FOLDER}*`);
    const policy = new iam.Policy(this, 'Policy', {
      statements: [
        existing
          ? new iam.PolicyStatement({ actions: ['ssm:GetParameter'], resources: [this.parameterArn, ...(passphraseArn ? [passphraseArn] : [])] })
          : new iam.PolicyStatement({
            actions: ['ssm:PutParameter', 'ssm:GetParameter', ...(props.destroy ? ['ssm:DeleteParameter'] : [])],
            resources: [this.parameterArn],
          }),
        new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [publicKeys] }),
        ...(props.encryptionKey ? [viaSsm(stack, props.encryptionKey, existing ? ['kms:Decrypt'] : ['kms:Encrypt', 'kms:Decrypt', 'kms:GenerateDataKey'])] : []),
      ],
    });
    provider.role.attachInlinePolicy(policy);
    props.bucket.encryptionKey?.grantEncrypt(provider.role);
    acknowledge(policy, {
      [wildcardResourceFinding(this, publicKeys)]: 'Writes the public key files under the repository\'s keys/ folder only.',
    });

    const properties: KeygenProperties = {
      KeyKind: kind,
      ...(existing ? { Mode: 'existing' as const, PassphraseParameterName: existing.passphraseParameterName } : {}),
      ParameterName: this.parameterName,
      KmsKeyId: props.encryptionKey?.keyArn,
      UserId: props.userId,
      RsaKeyName: props.rsaKeyName,
      BucketName: props.bucket.bucketName,
      PublicKeyPrefix: `${props.publicKeyPrefix}${KEYS_FOLDER}`,
      RemovalPolicy: props.destroy && !existing ? 'destroy' : 'retain',
    };
    const resource = new CustomResource(this, 'Resource', {
      serviceToken: provider.serviceToken,
      resourceType: 'Custom::PackageRepositorySigningKey',
      properties: { ...properties },
    });
    // the provider must hold the permissions before CloudFormation calls it
    resource.node.addDependency(policy);
  }
}

/**
 * The key-generation function and its custom resource provider: one per stack, shared by every
 * generated key of the stack.
 */
class KeygenProvider extends Construct {
  /** The provider of the stack, created on first use. */
  public static of(scope: Construct): KeygenProvider {
    const stack = Stack.of(scope);
    const id = 'CdkPackageReposKeygen';
    return (stack.node.tryFindChild(id) as KeygenProvider | undefined) ?? new KeygenProvider(stack, id);
  }

  public readonly role: iam.IRole;
  public readonly serviceToken: string;

  private constructor(scope: Construct, id: string) {
    super(scope, id);
    const { role, logGroup } = new FunctionRole(this, 'Execution');
    const fn = new lambda.Function(this, 'Function', {
      description: 'cdk-package-repos: generates repository signing keys into SSM SecureString parameters',
      runtime: lambda.Runtime.NODEJS_22_X,
      handler: 'index.handler',
      code: lambda.Code.fromAsset(assetDirectory('keygen')),
      environment: { NODE_OPTIONS: '--enable-source-maps' },
      // RSA 4096 generation is CPU-bound: memory buys CPU
      memorySize: 1024,
      timeout: Duration.minutes(5),
      role,
      logGroup,
    });
    const provider = new cr.Provider(this, 'Provider', { onEventHandler: fn });
    this.role = role;
    this.serviceToken = provider.serviceToken;
    acknowledge(fn, {
      'AwsSolutions-L1': 'Node.js 22 is the runtime the handler bundles target (and the indexer\'s container base image); it is supported until 2027.',
    });
    acknowledge(provider, {
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]':
        'The custom resource framework function of aws-cdk-lib only writes its own logs.',
      [wildcardResourceFinding(this, `${fn.functionArn}:*`)]: 'The framework may invoke any version of the key generation function.',
      'AwsSolutions-L1': 'The custom resource framework function of aws-cdk-lib chooses its own runtime.',
    });
  }
}
