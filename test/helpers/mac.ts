import sodium from 'sodium-native'

/**
 * Keyed BLAKE2b-256 of a text, in base64url: the MAC of the signed format
 * and of store-mode ids, computed the plainest way (a fresh Buffer each
 * time), so that tests sign by hand without the code under test.
 */
export function blake2b (key: Buffer, text: string): string {
  const out = Buffer.alloc(32)
  sodium.crypto_generichash(out, Buffer.from(text), key)
  return out.toString('base64url')
}
