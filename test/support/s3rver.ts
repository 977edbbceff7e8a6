/** The tests' s3rver is the local pipeline's: a real S3 API server in a child process on 127.0.0.1. */
export { startS3rver, type S3rverHandle, type StartS3rverOptions } from '../../src/pipeline/s3rver';
