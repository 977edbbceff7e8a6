/**
 * Detached signatures carried inside the object they sign.
 *
 * yum's `repomd.xml` / `repomd.xml.asc` and pacman's `<repo>.db.tar.gz` / `.sig` are pairs of
 * fixed-name objects that a client fetches one after the other and checks against each other.
 * Two objects cannot be replaced at once: between the two writes of a publish (or when a crash
 * falls there, until the redelivery), and whenever two caches hold different generations of
 * the two, the client sees a manifest and a signature that do not match and refuses the
 * repository. So the engine writes each signature a second time, as S3 user metadata of the
 * manifest, in the same PUT; the edge (and `pkgrepo serve`) answers a request for the
 * signature from the manifest object it then fetches: one object, one generation, always a
 * matching pair. The signature objects themselves are still written, for readers of the bucket
 * itself.
 *
 * This module is shared by the engine, the storages, the Lambda@Edge function and the local
 * servers; it imports nothing.
 */

/** The user metadata name (S3 sends it as the `x-amz-meta-pkgrepo-signature` header). */
export const SIGNATURE_METADATA = 'pkgrepo-signature';

/** The response header under which S3 returns it. */
export const SIGNATURE_HEADER = `x-amz-meta-${SIGNATURE_METADATA}`;

/**
 * The largest signature, in bytes, that fits: S3 allows 2 KB of user metadata per object (names
 * and values, with the engine's other entry), and base64 takes 4 characters for every 3 bytes.
 * An armored RSA-4096 signature is about 880 bytes, an Ed25519 one about 230.
 */
export const MAX_EMBEDDED_SIGNATURE_BYTES = 1_300;

/** The extensions of a detached signature, after the name of the object it signs. */
const SIGNATURE_SUFFIXES = ['.asc', '.sig'] as const;

/**
 * The manifest a fixed-name key signs, when `key` is `<manifest>.asc` or `<manifest>.sig` and
 * `<manifest>` is among `manifests` (a format's `manifestKeys`); undefined otherwise.
 */
export function signedManifestOf(key: string, manifests: readonly string[]): string | undefined {
  for (const suffix of SIGNATURE_SUFFIXES) {
    if (key.endsWith(suffix) && manifests.includes(key.slice(0, -suffix.length))) return key.slice(0, -suffix.length);
  }
  return undefined;
}

/** The metadata value for a signature's bytes (base64). */
export function encodeSignatureMetadata(signature: Uint8Array | string): string {
  const bytes = typeof signature === 'string' ? Buffer.from(signature, 'utf8') : Buffer.from(signature.buffer, signature.byteOffset, signature.byteLength);
  if (bytes.byteLength > MAX_EMBEDDED_SIGNATURE_BYTES) {
    throw new Error(`a detached signature of ${bytes.byteLength} bytes does not fit in S3 user metadata (at most ${MAX_EMBEDDED_SIGNATURE_BYTES} bytes)`);
  }
  return bytes.toString('base64');
}

/** The signature's bytes from a metadata value, or undefined when it is not valid base64 of a plausible size. */
export function decodeSignatureMetadata(value: string | undefined): Buffer | undefined {
  if (value === undefined || value.length === 0 || value.length > Math.ceil(MAX_EMBEDDED_SIGNATURE_BYTES / 3) * 4) return undefined;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(value) || value.length % 4 !== 0) return undefined;
  return Buffer.from(value, 'base64');
}
